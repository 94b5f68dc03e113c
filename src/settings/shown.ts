/**
 * Action parameters as they may be shown (check-config --dump, get JAIL
 * action, pasted into tickets): secrets and passwords hidden, and a webhook
 * URL cut to scheme and host, since its path is the token (Slack, Teams,
 * Mattermost).
 */
export function shownParam(key: string, value: string): string {
  if (/pass|secret|token/i.test(key)) return '(hidden)';
  if (key === 'url' && !value.startsWith('env:')) return value.replace(/^(\w+:\/\/)(?:[^@/]*@)?([^/?#]*).*$/s, '$1$2/(hidden)');
  return value.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:(hidden)@');
}

export function shownParams(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, shownParam(k, v)]));
}
