import { ApiError } from '../api';

/** An error of the API where it happened: its status and message, announced to screen readers. */
export function ErrorText({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  const e = error as Error;
  const status = error instanceof ApiError && error.status ? `${error.status}: ` : '';
  return (
    <p className="error" role="alert" id={id}>
      {status}
      {e.message ?? String(error)}
    </p>
  );
}
