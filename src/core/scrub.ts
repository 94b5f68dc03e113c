/**
 * Removes a secret in every form a library might echo it: plain, URL-encoded,
 * base64 alone and inside an AUTH PLAIN token.
 */
export function scrubSecret(text: string, secret: string | null, user: string | null = null): string {
  if (!secret) return text;
  const forms = new Set<string>([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]);
  if (user !== null) {
    forms.add(Buffer.from(`\u0000${user}\u0000${secret}`).toString('base64'));
    forms.add(Buffer.from(`${user}\u0000${secret}`).toString('base64'));
  }
  let out = text;
  for (const f of [...forms].sort((a, b) => b.length - a.length)) if (f.length > 0) out = out.split(f).join('[redacted]');
  return out;
}
