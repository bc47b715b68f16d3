import { Layout } from '../pages/layout'

export interface DocOperation {
  method: string
  path: string
  summary: string
  tag: string
  statuses: string[]
}

export interface DocsPageProps {
  productName: string
  title: string
  version: string
  operations: readonly DocOperation[]
}

/**
 * The API reference, rendered on the server from the OpenAPI document: the pages' CSP allows no
 * script, so no client-side viewer. The document itself is at /admin/openapi.json.
 */
export function DocsPage(props: DocsPageProps) {
  const tags = [...new Set(props.operations.map((operation) => operation.tag))]
  return (
    <Layout title="API reference" productName={props.productName} wide>
      <h1>{props.title}</h1>
      <p class="lead">
        Version {props.version}. OpenAPI 3.1 document: <a href="/admin/openapi.json">/admin/openapi.json</a>
      </p>
      {tags.map((tag) => (
        <section>
          <h2>{tag}</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">What it does</th>
                <th scope="col">Responses</th>
              </tr>
            </thead>
            <tbody>
              {props.operations
                .filter((operation) => operation.tag === tag)
                .map((operation) => (
                  <tr>
                    <td>
                      <code>{operation.method.toUpperCase()}</code>
                    </td>
                    <td>
                      <code>{operation.path}</code>
                    </td>
                    <td>{operation.summary}</td>
                    <td>{operation.statuses.join(' ')}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      ))}
    </Layout>
  )
}
