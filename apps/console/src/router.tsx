import { AnchorHTMLAttributes, MouseEvent, useEffect, useState } from 'react';

/** History routing under /console/ (the gateway answers index.html for every /console/... path). */
export const BASE = '/console';

export function navigate(to: string): void {
  history.pushState(null, '', BASE + to);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The path after /console, e.g. "/functions/abc/invoke". */
export function useRoute(): string {
  const read = () => location.pathname.slice(BASE.length) || '/';
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('popstate', on);
    return () => window.removeEventListener('popstate', on);
  }, []);
  return route;
}

/** A real link (middle click, copy address work), routed in the page on a plain click. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={BASE + to} onClick={onClick} {...rest} />;
}
