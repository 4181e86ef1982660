import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { SessionUser } from '../api/session';

export interface SessionState {
  user: SessionUser;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState | null>(null);

/** The signed-in user; screens under the shell always have one. */
export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in shell');
  return s;
}
