/** The agent's screens (issue #12): the inbox and the case. */
import type { Screen } from '../router';
import { Inbox } from './inbox';
import { CaseScreen } from './case/case-screen';

export const agentScreens: Screen[] = [
  { path: '/inbox', view: Inbox, nav: { label: 'Inbox', shortcut: 'g i' } },
  { path: '/cases/:id', view: CaseScreen },
];
