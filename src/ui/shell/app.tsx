/**
 * The app shell: finds the session, shows sign-in without one, else the top bar and the screen
 * the URL names. Screens come from screens.ts; nothing here knows a particular screen.
 */
import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized } from '../api/client';
import { currentSession, displayName, signOut, type SessionUser } from '../api/session';
import { linkHandler, match, navigate, useLocation } from '../router';
import { screens } from '../screens';
import { SessionContext } from './session-context';
import { SignIn } from './sign-in';
import { installShortcuts } from './shortcuts';
import { ShortcutHelp } from './shortcut-help';
import { Toasts } from './toasts';
import { closeLive } from '../live/live-client';

export function App() {
  const [user, setUser] = useState<SessionUser | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>();
  const { path, query } = useLocation();

  useEffect(() => {
    currentSession().then(setUser, (e: Error) => setError(e.message));
    const off = onUnauthorized(() => setUser(null));
    const offKeys = installShortcuts();
    return () => {
      off();
      offKeys();
    };
  }, []);

  if (error) return <main class="boot"><p role="alert">Tessera is not answering: {error}</p></main>;
  if (user === undefined) return <main class="boot" aria-busy="true">Loading…</main>;
  if (user === null) {
    return (
      <SignIn
        onSignedIn={(u) => {
          setUser(u);
          if (path === '/' || path === '/sign-in') navigate(homeOf(u), { replace: true });
        }}
      />
    );
  }
  if (path === '/' || path === '/sign-in') {
    queueMicrotask(() => navigate(homeOf(user), { replace: true }));
    return null;
  }

  const doSignOut = async () => {
    closeLive();
    await signOut().catch(() => undefined);
    setUser(null);
    navigate('/', { replace: true });
  };

  let found: { view: (typeof screens)[number]['view']; params: Record<string, string> } | undefined;
  for (const s of screens) {
    const params = match(s.path, path);
    if (params) {
      found = { view: s.view, params };
      break;
    }
  }
  const nav = screens.filter((s) => s.nav && (!s.nav.roles || s.nav.roles.includes(user.role)));
  const View = found?.view;

  return (
    <SessionContext.Provider value={{ user, signOut: doSignOut }}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <span class="brand">Tessera</span>
        <nav aria-label="Main">
          {nav.map((s) => (
            <a href={s.path} onClick={linkHandler(s.path)} aria-current={path.startsWith(s.path) ? 'page' : undefined} key={s.path}>
              {s.nav!.label}
              {s.nav!.shortcut ? <kbd class="hint">{s.nav!.shortcut}</kbd> : null}
            </a>
          ))}
        </nav>
        <span class="who">
          {displayName(user)} <span class="muted">({user.role})</span>
        </span>
        <button type="button" onClick={doSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {View ? <View params={found!.params} query={query} /> : <p>No screen at {path}.</p>}
      </main>
      <ShortcutHelp />
      <Toasts />
    </SessionContext.Provider>
  );
}

/** Where a user lands after sign-in. */
function homeOf(user: SessionUser): string {
  const first = screens.find((s) => s.nav && (!s.nav.roles || s.nav.roles.includes(user.role)));
  return first?.path ?? '/inbox';
}
