import { alertFacts, cap, entryLine, fitEntries, headline, moreLine, oneLine, type Markup, type WebhookEntry } from './entries.js';
import { jsonRequest, type PayloadContext, type WebhookRequest } from './request.js';

/** Characters of card elements per message; Teams refuses cards over about 28 KB. */
const CARD_BUDGET = 20_000;

// Adaptive Card TextBlocks and FactSets render a Markdown subset (bold, italic, lists,
// links) with no reliable escape character: formatting characters become look-alikes.
const TEAMS_LOOKALIKE: Record<string, string> = { '*': '∗', _: 'ˍ', '[': '［', ']': '］', '`': 'ˋ', '<': '‹', '>': '›', '~': '∼', '#': '＃' };

export const teamsMarkup: Markup = {
  text: (s) => oneLine(s).replace(/[*_[\]`<>~#]/g, (c) => TEAMS_LOOKALIKE[c]!),
  code: (s) => `"${teamsMarkup.text(s)}"`,
  strong: (s) => `**${teamsMarkup.text(s)}**`,
};

function textBlock(text: string, extra: Record<string, unknown> = {}): object {
  return { type: 'TextBlock', text, wrap: true, ...extra };
}

function elements(e: WebhookEntry): object[] {
  const m = teamsMarkup;
  const out = [textBlock(entryLine(e, m, { facts: false }), { spacing: 'Medium' })];
  const facts = e.event === 'alert' ? alertFacts(e.alert) : [];
  if (facts.length > 0) out.push({ type: 'FactSet', facts: facts.map(([k, v]) => ({ title: m.text(k), value: m.text(v) })) });
  return out;
}

/** The payload of a Teams "Workflows" (Power Automate) webhook: a message holding one Adaptive Card. */
export function teamsPayload(entries: WebhookEntry[], ctx: PayloadContext): WebhookRequest {
  const m = teamsMarkup;
  const { items, more } = fitEntries(entries, elements, (els) => JSON.stringify(els).length, CARD_BUDGET);
  const body = [
    textBlock(m.text(headline(entries, ctx.name)), { weight: 'Bolder', size: 'Medium' }),
    ...items.flat(),
    ...(more > 0 ? [textBlock(moreLine(more), { spacing: 'Medium' })] : []),
    textBlock(`asterisk-ban on ${m.text(cap(ctx.host, 100))}`, { isSubtle: true, size: 'Small', spacing: 'Medium' }),
  ];
  return jsonRequest({
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body },
      },
    ],
  });
}
