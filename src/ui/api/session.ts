/** The browser session: who is signed in, and the CSRF token the API client sends on writes. */
import { api, ApiError, setCsrfToken } from './client';

export interface SessionUser {
  id: string;
  username?: string;
  display_name?: string | null;
  role: 'agent' | 'supervisor' | 'admin' | 'integration';
  teams?: string[];
  [key: string]: unknown;
}

interface SessionView {
  user: SessionUser;
  csrf_token: string;
  expires_at: string;
}

/** The current session, or null when the browser has none (show sign-in). */
export async function currentSession(): Promise<SessionUser | null> {
  try {
    const s = await api.get<SessionView>('/v1/sessions/current');
    setCsrfToken(s.csrf_token);
    return s.user;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) return null;
    throw err;
  }
}

export async function signIn(username: string, password: string): Promise<SessionUser> {
  const s = await api.post<SessionView>('/v1/sessions', { username, password });
  setCsrfToken(s.csrf_token);
  return s.user;
}

export async function signOut(): Promise<void> {
  try {
    await api.del('/v1/sessions/current');
  } finally {
    setCsrfToken(undefined);
  }
}

export function displayName(u: Pick<SessionUser, 'id' | 'display_name' | 'username'>): string {
  return u.display_name || u.username || u.id;
}
