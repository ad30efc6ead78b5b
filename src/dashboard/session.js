// The keys this tab holds, and every call to the API made with them.
const secretSlot = 'clickvote-secret-key';
const adminSlot = 'clickvote-admin-token';

export class ApiError extends Error {
  constructor(status, problem) {
    const fields = (problem?.errors ?? []).map((error) => `${error.field} ${error.message}`).join('; ');
    super([problem?.detail ?? `The server answered ${status}.`, fields].filter(Boolean).join(' '));
    this.status = status;
    this.code = String(problem?.type ?? '').split(':').pop();
  }
}

export const session = {
  secretKey: () => sessionStorage.getItem(secretSlot) ?? '',
  adminToken: () => sessionStorage.getItem(adminSlot) ?? '',
  signIn(secretKey, adminToken) {
    sessionStorage.setItem(secretSlot, secretKey);
    if (adminToken) sessionStorage.setItem(adminSlot, adminToken);
    else sessionStorage.removeItem(adminSlot);
  },
  signOut() {
    sessionStorage.removeItem(secretSlot);
    sessionStorage.removeItem(adminSlot);
  },
};

/** Calls the API with the project's secret key, or with the admin token when `admin` is set. */
export async function api(path, options = {}) {
  const token = options.admin ? session.adminToken() : session.secretKey();
  const response = await fetch(path, {
    method: options.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** A refused key (not a refused action): the dashboard goes back to the key form. */
export function isRefusedKey(error) {
  return error instanceof ApiError && (error.status === 401 || (error.status === 403 && error.code === 'forbidden'));
}
