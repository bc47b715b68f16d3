/** A unix-seconds instant as a `<time>`, shown in UTC to the minute (the pages have no script). */
export function When(props: { at: number }) {
  const iso = new Date(props.at * 1000).toISOString()
  return <time datetime={iso}>{`${iso.slice(0, 16).replace('T', ' ')} UTC`}</time>
}
