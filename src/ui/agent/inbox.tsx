/** Placeholder replaced by the full inbox in the next commit. */
import type { RouteProps } from '../router';

export function Inbox(_props: RouteProps) {
  return <h1>Inbox</h1>;
}
