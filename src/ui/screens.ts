/**
 * Every screen of the app, in match order. Each area keeps its screens in its own file and
 * adds one line here (agent: agent/screens.ts; the supervisor console: console/screens.ts).
 */
import type { Screen } from './router';
import { agentScreens } from './agent/screens';
import { consoleScreens } from './console/screens';

export const screens: Screen[] = [...agentScreens, ...consoleScreens];
