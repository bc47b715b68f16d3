import type { Child } from 'hono/jsx'
import { STYLESHEET_PATH, STYLESHEET_VERSION } from './stylesheet'

export interface LayoutProps {
  title: string
  productName: string
  wide?: boolean
  children?: Child
}

/**
 * The one layout of the gateway's pages: no inline style, and no script but the passkey script
 * where a page asks for it, allowed by its hash (see the CSP in render.ts).
 */
export function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${props.title} · ${props.productName}`}</title>
        <link rel="stylesheet" href={`${STYLESHEET_PATH}?v=${STYLESHEET_VERSION}`} />
      </head>
      <body>
        <main class={props.wide ? 'wide' : undefined}>{props.children}</main>
      </body>
    </html>
  )
}
