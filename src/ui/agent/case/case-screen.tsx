/** Placeholder replaced by the full case screen. */
import type { RouteProps } from '../../router';

export function CaseScreen({ params }: RouteProps) {
  return <h1>Case {params.id}</h1>;
}
