/**
 * `?` anywhere (outside a field): the keyboard shortcuts of this screen, read from what the
 * screen registered, so the list never drifts from what the keys do. Escape closes it.
 */
import { useEffect, useState } from 'preact/hooks';
import { Dialog } from '../agent/case/dialog';
import { registerShortcut, shortcutList } from './shortcuts';

export function ShortcutHelp() {
  const [open, setOpen] = useState(false);
  useEffect(() => registerShortcut('?', 'Show these shortcuts', () => setOpen(true)), []);
  if (!open) return null;
  const list = shortcutList();
  return (
    <Dialog title="Keyboard shortcuts" onClose={() => setOpen(false)}>
      <table class="shortcut-list">
        <thead>
          <tr>
            <th scope="col">Keys</th>
            <th scope="col">Does</th>
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <tr key={s.keys}>
              <td>
                {s.keys.split(' ').map((k, i) => (
                  <kbd key={i}>{k}</kbd>
                ))}
              </td>
              <td>{s.label}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">Keys typed into a field are never taken as shortcuts.</p>
      <button type="button" autoFocus onClick={() => setOpen(false)}>
        Close
      </button>
    </Dialog>
  );
}
