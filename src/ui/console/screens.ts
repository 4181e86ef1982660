/** The supervisor console's screens (issue #12). */
import type { Screen } from '../router';
import { navigate } from '../router';
import { registerShortcut } from '../shell/shortcuts';
import { Console } from './console';

registerShortcut('g c', 'Go to the supervisor console', () => navigate('/console'));

export const consoleScreens: Screen[] = [
  { path: '/console', view: Console, nav: { label: 'Console', roles: ['supervisor', 'admin'], shortcut: 'g c' } },
];
