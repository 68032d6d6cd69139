/**
 * Why a callback may not go to this URL under DEPLOYER_CALLBACK_ALLOWED_HOSTS ("a.example.com, *.example.org"), or
 * undefined when it may: any host when the setting is empty, else an exact host or a subdomain of a "*." entry.
 */
export function callbackHostProblem(callbackUrl: string, allowedHosts: string): string | undefined {
  const allowed = allowedHosts
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  if (!allowed.length) return undefined;
  let host: string;
  try {
    host = new URL(callbackUrl).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return `X-Callback-Url "${callbackUrl.slice(0, 200)}" is not an absolute URL`;
  }
  if (allowed.some((a) => (a.startsWith('*.') ? host.endsWith(a.slice(1)) && host.length > a.length - 1 : host === a))) return undefined;
  return `X-Callback-Url names host ${host}, which this platform does not call back (DEPLOYER_CALLBACK_ALLOWED_HOSTS: ${allowed.join(', ')})`;
}
