/**
 * The two sign-out buttons of the signed-in pages: plain same-origin form POSTs (no script), which
 * the CSRF guard admits by their Fetch Metadata (sessions/csrf-guard.ts).
 */
export function SignOutForms() {
  return (
    <div class="actions">
      <form method="post" action="/auth/logout">
        <button class="secondary" type="submit">
          Sign out of this browser
        </button>
      </form>
      <form method="post" action="/auth/logout-all">
        <button class="secondary" type="submit">
          Sign out everywhere
        </button>
      </form>
    </div>
  )
}
