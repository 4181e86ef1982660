/** A moment as agents read it: relative ("5 min ago"), the exact time on hover and for machines. */
import { dateTime, relative } from './format';

export function When({ iso, now }: { iso: string; now?: number }) {
  const ms = new Date(iso).getTime() - (now ?? Date.now());
  // Under a minute either way, "0 min ago" reads oddly.
  const text = Math.abs(ms) < 60_000 ? 'just now' : relative(ms);
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {text}
    </time>
  );
}
