/** A stream's own rules, without a server: framing, positions, and a slow client cut off instead of buffered without end. */
import { describe, expect, it } from 'vitest';
import { comparePositions, decodePosition, encodePosition } from '../../src/live/feed-position.js';
import { createLiveStream, sseFrame } from '../../src/live/live-stream.js';
import { nonUserPrincipal } from '../../src/people/principal.js';

function fakeSink() {
  const written: string[] = [];
  let unsent = 0;
  let ended = 0;
  return {
    written,
    ended: () => ended,
    stall: (bytes: number) => {
      unsent = bytes;
    },
    sink: { write: (chunk: string) => void written.push(chunk), buffered: () => unsent, end: () => void ended++ },
  };
}

const principal = nonUserPrincipal({ kind: 'operator', userId: 'sup', role: 'supervisor', keyId: 'k' });

describe('a live stream', () => {
  it('frames one event as id, event and one line of JSON data', () => {
    const frame = sseFrame('case', JSON.stringify({ text: 'two\nlines' }), '5.7');
    expect(frame).toBe('id: 5.7\nevent: case\ndata: {"text":"two\\nlines"}\n\n');
    expect(sseFrame('presence', '{}')).toBe('event: presence\ndata: {}\n\n');
  });

  it('closes a client that left more than maxBufferBytes unsent, once, and writes nothing after', () => {
    const fake = fakeSink();
    let closes = 0;
    const stream = createLiveStream({ id: 's', principal, subscriptions: { cases: [], lists: [], tiles: false }, sink: fake.sink, maxBufferBytes: 1_000, onClose: () => closes++ });
    stream.send('a');
    fake.stall(1_001);
    stream.send('b');
    stream.send('c');
    stream.close();
    expect(fake.written).toEqual(['a']);
    expect(stream.dropped).toBe(true);
    expect(stream.open).toBe(false);
    expect(closes).toBe(1);
    expect(fake.ended()).toBe(1);
  });
});

describe('feed positions', () => {
  it('round-trip, order by transaction then sequence, and refuse what this server never wrote', () => {
    const p = decodePosition('18446744073709551615.42')!;
    expect(encodePosition(p)).toBe('18446744073709551615.42');
    expect(comparePositions(decodePosition('9.100')!, decodePosition('10.1')!)).toBe(-1);
    expect(comparePositions(decodePosition('10.2')!, decodePosition('10.1')!)).toBe(1);
    for (const bad of ['', 'x', '1', '1.2.3', '-1.2', '18446744073709551616.1', undefined, null]) expect(decodePosition(bad as string)).toBeUndefined();
  });
});
