import { Layout } from './layout'

export interface ErrorPageProps {
  productName: string
  title: string
  message: string
  requestId: string
}

/** The generic error page of the gateway's browser endpoints (never a stack or an internal detail). */
export function ErrorPage(props: ErrorPageProps) {
  return (
    <Layout title={props.title} productName={props.productName}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p class="muted">Request id: {props.requestId}</p>
      <p>
        <a href="/auth/login">Go to the sign-in page</a>
      </p>
    </Layout>
  )
}
