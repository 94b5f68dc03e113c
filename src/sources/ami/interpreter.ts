import { printable } from '../../core/address.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { ThrottledLog } from '../../core/logger.js';
import type { Failure } from '../../core/types.js';
import { metrics } from '../../control/metrics.js';
import { scanFrame, mapOptions, parseRemoteAddress, toFailure, type FrameCheck, type MapOptions } from '../../filter/ami-event.js';
import type { AmiSettings } from '../../settings/types.js';
import type { Login, SourceEvents } from '../types.js';
import { ChallengeTracker } from './challenges.js';

/** A security event cut short by a blank line the attacker wrote into a field. */
interface Pending {
  check: FrameCheck;
  /** Frames seen since: all attacker text until the one holding Asterisk's tail. */
  pieces: number;
  /** Header-only pieces with a RemoteAddress, in this read: one is Asterisk's tail; several, no telling which. */
  tails: string[];
}

/** Reads a SuccessfulAuth's fields the way a failure's are read (bounded, escaped). */
const LOGIN_MAP: MapOptions = mapOptions(['SuccessfulAuth'], []);

// Asterisk writes LocalAddress/RemoteAddress after the attacker's fields, so the
// tail arrives within a few frames; beyond that the head is given up.
const MAX_PIECES = 8;

/**
 * Turns the security events of one AMI session into failures and successes.
 * Pure of I/O: the session feeds it frames in stream order.
 */
export class EventInterpreter {
  private readonly opts: MapOptions;
  private readonly throttled: ThrottledLog;
  private readonly challenges: ChallengeTracker | null;
  private pending: Pending | null = null;
  /**
   * A whole-looking frame, held to the end of the read it came in: Asterisk
   * writes an event at once, so a header-only tail right behind it in the
   * same read means an injected blank line cut it and forged its end.
   */
  private held: FrameCheck | null = null;
  /** Frames that counted as failures, tampered frames, dropped frames: for tests and status. */
  readonly counts = { failures: 0, successes: 0, tampered: 0, dropped: 0 };

  constructor(
    private readonly jail: string,
    private readonly settings: AmiSettings,
    private readonly events: SourceEvents,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.opts = mapOptions(settings.events, settings.services);
    this.throttled = new ThrottledLog(logger, 60_000, clock);
    this.challenges = settings.challengeWindow > 0
      ? new ChallengeTracker(settings.challengeWindow * 1000, clock, (f) => this.emit(f))
      : null;
  }

  /** The connection ended: a half-received event can no longer be completed. */
  reset(): void {
    this.endOfRead();
    if (this.pending) this.giveUp('connection ended inside a split event');
  }

  /** Nothing more in this read: a held frame had no forged end after all. */
  endOfRead(): void {
    this.settlePending();
    const h = this.held;
    if (!h) return;
    this.held = null;
    this.release(h);
  }

  stop(): void {
    this.pending = null;
    this.held = null;
    this.challenges?.stop();
  }

  /** One message's text as the splitter gives it: the hot path. */
  text(text: string): void {
    this.checked(scanFrame(text), text);
  }

  private checked(check: FrameCheck, firstLine: string): void {
    const held = this.held;
    if (held) {
      this.held = null;
      if (!check.headed && check.remote !== null) {
        // Its end was forged: settled with the tails that follow, like any split event.
        this.pending = { check: held, pieces: 1, tails: [check.remote] };
        return;
      }
      this.release(held);
    }
    if (this.pending) {
      this.continuePending(check);
      return;
    }
    if (check.event === null) {
      this.drop(`AMI message without Event header: "${printable(firstLine, 40)}"`);
      return;
    }
    if (check.whole) {
      this.held = check;
      return;
    }
    if (!check.headed) {
      // A header-only frame with nothing before it: the tail of a frame we never saw whole.
      this.tamper(check.remote, check.event, 'continuation frame without its event');
      return;
    }
    if (!isSecurity(check)) return; // another class of event (read = all)
    // A frame missing some of Asterisk's own headers was cut by an injected blank
    // line: a RemoteAddress in it is the attacker's; the real one is in the tail.
    if (check.remote === null || !check.complete) {
      this.pending = { check, pieces: 0, tails: [] };
      return;
    }
    // Repeated headers, every one of Asterisk's present: held like a whole frame,
    // since a tail behind it in the same read would mean its end was forged too.
    this.held = check;
  }

  private release(check: FrameCheck): void {
    if (check.whole) {
      if (check.tampered) this.tamper(check.remote, check.event, 'a field holds a line break');
      this.handleWhole(check);
      return;
    }
    // The attacker wrote lines into a field before Asterisk's own, so the last RemoteAddress is the real one.
    this.tamper(check.remote, check.event, 'header repeated');
    this.countFailure(check, check.remote, check.event);
  }

  private handleWhole(check: FrameCheck): void {
    const event = check.event!;
    if (event === 'SuccessfulAuth') {
      const addr = check.remote !== null ? parseRemoteAddress(check.remote) : null;
      if (!addr) return;
      this.challenges?.answered(addr.text);
      if (this.events.success) {
        if (this.settings.successClears) this.counts.successes++;
        this.events.success(addr.text, this.settings.successClears, this.login(check));
      }
      return;
    }
    if (event === 'ChallengeSent') {
      if (!this.challenges || check.remote === null) return;
      const addr = parseRemoteAddress(check.remote);
      if (addr && this.serviceTaken(check)) this.challenges.sent(addr, check.service, this.clock.now());
      return;
    }
    this.countFailure(check, check.remote, event);
  }

  private login(check: FrameCheck): Login {
    const r = toFailure(check, check.remote, LOGIN_MAP, this.clock.now(), 'SuccessfulAuth');
    const f = r.kind === 'failure' ? r.failure : null;
    const login: Login = { time: f?.time ?? this.clock.now(), own: false };
    if (f?.account !== undefined) login.account = f.account;
    if (f?.service !== undefined) login.service = f.service;
    login.own = f?.service === 'AMI' && f.account === this.settings.username;
    return login;
  }

  /**
   * The tail is the header-only frame holding a RemoteAddress. An attacker who
   * writes two blank lines with a header-only piece of their own between them
   * makes two such frames, and nothing in the text tells Asterisk's from
   * theirs: with more than one in the read, the event counts for no one.
   * Asterisk writes an event at once, so its pieces arrive in one read.
   */
  private continuePending(check: FrameCheck): void {
    const p = this.pending!;
    p.pieces++;
    if (!check.headed && check.remote !== null) {
      p.tails.push(check.remote);
      if (p.pieces >= MAX_PIECES) this.settlePending();
      return;
    }
    // The next event after a tail: the split one is settled, this one read as usual.
    if (p.tails.length > 0 && check.headed) {
      this.settlePending();
      this.checked(check, '');
      return;
    }
    // Anything else before the tail, even a frame that looks whole, is text the attacker wrote.
    if (p.pieces >= MAX_PIECES) this.giveUp('split event without its tail');
  }

  /** A split event at the end of its read: counted with its one tail, or for no one when the attacker forged more. */
  private settlePending(): void {
    const p = this.pending;
    if (!p || p.tails.length === 0) return;
    this.pending = null;
    if (p.tails.length > 1) {
      this.tamper(p.tails.at(-1)!, p.check.event, `split by injected blank lines into ${p.tails.length} pieces naming addresses: counted for none`);
      return;
    }
    this.tamper(p.tails[0]!, p.check.event, 'event split by an injected blank line; rejoined');
    this.countFailure(p.check, p.tails[0]!, p.check.event);
  }

  private giveUp(why: string): void {
    this.pending = null;
    this.drop(`dropped AMI event: ${why}`);
  }

  private countFailure(check: FrameCheck, remote: string | null, event: string | null): void {
    const r = toFailure(check, remote, this.opts, this.clock.now(), event);
    if (r.kind === 'failure') {
      this.challenges?.answered(r.failure.ip);
      this.emit(r.failure);
    } else if (r.kind === 'malformed') {
      this.drop(`dropped AMI ${printable(event ?? '?', 40)}: ${r.why}`);
    }
  }

  private emit(f: Failure): void {
    this.counts.failures++;
    this.events.failure(f);
  }

  private serviceTaken(check: FrameCheck): boolean {
    const s = this.opts.services;
    if (s.size === 0) return true;
    return check.service !== undefined && s.has(check.service.toUpperCase());
  }

  private tamper(remote: string | null, event: string | null, why: string): void {
    this.counts.tampered++;
    metrics.amiTampered.inc({ jail: this.jail });
    const addr = remote !== null ? parseRemoteAddress(remote) : null;
    const who = addr ? addr.text : 'unknown source';
    this.throttled.warn(`tamper:${who}`, `AMI ${printable(event ?? '?', 40)} from ${who} was tampered with: ${why}`, { jail: this.jail });
  }

  private drop(message: string): void {
    this.counts.dropped++;
    metrics.amiDropped.inc({ jail: this.jail });
    this.throttled.warn('ami-drop', message, { jail: this.jail });
  }
}

function isSecurity(check: FrameCheck): boolean {
  return check.privilege !== null && check.privilege.split(',').includes('security');
}
