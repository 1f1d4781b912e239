/** An HTTP answer as data: handlers return one instead of throwing. */
export interface Reply {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

export const ok = (body: unknown, status = 200): Reply => ({ status, body })

export const noContent = (status = 204): Reply => ({ status })

/** Fly's `ErrorResponse`: `{"error": text, "status"?: code}`. */
export const failure = (status: number, error: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  body: { error, ...extra },
})

export const isSuccess = (reply: Reply): boolean => reply.status >= 200 && reply.status < 300
