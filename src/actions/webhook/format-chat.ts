import { cap, entryLine, fitEntries, headline, moreLine, oneLine, type Markup, type WebhookEntry } from './entries.js';
import { jsonRequest, type PayloadContext, type WebhookRequest } from './request.js';

/** Characters of entry lines per message: far below Slack's and Mattermost's limits, and readable. */
const CHAT_BUDGET = 12_000;
/** Slack refuses a section over 3,000 characters. */
const SECTION_MAX = 2_900;

// Slack's mrkdwn has no escape character. Its own rule turns & < > into entities, which
// also disarms <!channel>-style mentions and <url|text> links; formatting characters become
// look-alikes so `*x*` cannot turn bold, and `@` a full-width ＠ so no @here is ever a mention.
const SLACK_LOOKALIKE: Record<string, string> = { '*': '∗', _: 'ˍ', '~': '∼', '`': 'ˋ' };

function slackEscape(s: string): string {
  return oneLine(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/@/g, '＠');
}

export const slackMarkup: Markup = {
  text: (s) => slackEscape(s).replace(/[*_~`]/g, (c) => SLACK_LOOKALIKE[c]!),
  // Nothing is formatted inside inline code, so accounts show as written; only a backtick could end it early.
  code: (s) => `\`${slackEscape(s).replace(/`/g, "'") || ' '}\``,
  strong: (s) => `*${slackMarkup.text(s)}*`,
};

// Mattermost renders Markdown, where a backslash makes punctuation literal. `<` and `>` are
// escaped too: Mattermost rewrites a Slack-style <!channel> into @channel before rendering.
// Its mentions are plain words (@here, @all, @name), hence the full-width ＠. No code spans:
// escapes do not work inside them, and the <!channel> rewrite would. ( ) ! only act next to
// an escaped [ ], so they stay as written.
const MARKDOWN_SPECIAL = /[\\`*_~[\]<>&#|]/g;

export const mattermostMarkup: Markup = {
  text: (s) => oneLine(s).replace(MARKDOWN_SPECIAL, '\\$&').replace(/@/g, '＠'),
  code: (s) => `"${mattermostMarkup.text(s)}"`,
  strong: (s) => `**${mattermostMarkup.text(s)}**`,
};

function section(text: string): object {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

/** Lines packed into sections under Slack's limit; an over-long line is cut and kept alone, so its cut cannot bleed into another. */
function sections(lines: string[]): object[] {
  const out: object[] = [];
  let current = '';
  for (const line of lines) {
    if (line.length > SECTION_MAX) {
      if (current !== '') out.push(section(current));
      out.push(section(`${line.slice(0, SECTION_MAX - 1)}…`));
      current = '';
    } else if (current !== '' && current.length + 1 + line.length > SECTION_MAX) {
      out.push(section(current));
      current = line;
    } else {
      current = current === '' ? line : `${current}\n${line}`;
    }
  }
  if (current !== '') out.push(section(current));
  return out;
}

export function slackPayload(entries: WebhookEntry[], ctx: PayloadContext): WebhookRequest {
  const m = slackMarkup;
  const head = m.text(headline(entries, ctx.name));
  const { items, more } = fitEntries(entries, (e) => `• ${entryLine(e, m)}`, (line) => line.length, CHAT_BUDGET);
  if (more > 0) items.push(moreLine(more));
  return jsonRequest({
    // Shown in notifications and where blocks are not.
    text: head,
    blocks: [
      section(`*${head}*`),
      ...sections(items),
      { type: 'context', elements: [{ type: 'mrkdwn', text: `asterisk-ban on ${m.text(cap(ctx.host, 100))}` }] },
    ],
  });
}

export function mattermostPayload(entries: WebhookEntry[], ctx: PayloadContext): WebhookRequest {
  const m = mattermostMarkup;
  const { items, more } = fitEntries(entries, (e) => `- ${entryLine(e, m)}`, (line) => line.length + 1, CHAT_BUDGET);
  if (more > 0) items.push(moreLine(more));
  const lines = [m.strong(headline(entries, ctx.name)), '', ...items, '', `_asterisk-ban on ${m.text(cap(ctx.host, 100))}_`];
  return jsonRequest({ text: lines.join('\n') });
}
