/** Vite's `?raw` suffix: a file's text (test fixtures such as the OpenAPI YAML). */
declare module '*?raw' {
  const text: string
  export default text
}
