// Every call the README documents, written as a frontend would with a client generated from the API's OpenAPI document
// (openapi-typescript + openapi-fetch). ApiContractTests generates ./schema.d.ts from the document the API serves and
// type-checks this file with `tsc --strict`: a call that stops type-checking is a broken contract. The lines under
// `@ts-expect-error` are misuses that must NOT type-check (tsc fails if they do), so a loose document fails too.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Post = components["schemas"]["PostResponse"];
type PostStatus = Post["status"];
type AccountStatus = components["schemas"]["XAccountResponse"]["status"];

const api = createClient<paths>({ baseUrl: "http://localhost:8002" });
const auth = { Authorization: "Bearer <Clerk session token>" };

/** Exhaustive: adding or renaming a status in the API breaks this switch, as it would break a frontend's. */
export function label(status: PostStatus): string {
  switch (status) {
    case "draft": return "Draft";
    case "scheduled": return "Scheduled";
    case "publishing": return "Publishing";
    case "published": return "Published";
    case "failed": return "Failed";
    case "missed": return "Missed";
    case "unconfirmed": return "Check X";
    case "cancelled": return "Cancelled";
    default: {
      const unknown: never = status;
      return unknown;
    }
  }
}

export function accountLabel(status: AccountStatus): string {
  switch (status) {
    case "connected": return "Connected";
    case "needs_reconnect": return "Reconnect";
    case "disconnected": return "Disconnected";
    default: {
      const unknown: never = status;
      return unknown;
    }
  }
}

export async function everyDocumentedCall(accountId: string, postId: string): Promise<string[]> {
  const seen: string[] = [];

  const me = await api.GET("/api/me", { headers: auth });
  const email: string | null | undefined = me.data?.email;
  seen.push(me.data?.id ?? "", email ?? "");

  const accounts = await api.GET("/api/x-accounts", { headers: auth });
  for (const account of accounts.data?.items ?? []) {
    seen.push(account.id, account.username, accountLabel(account.status), account.connectedAt);
  }

  const connect = await api.POST("/api/x-accounts/connect", { headers: auth });
  const authorizeUrl: string | undefined = connect.data?.authorizeUrl;
  seen.push(authorizeUrl ?? "");

  // The callback page passes on what X put in its query string: state and code, or state and error.
  const connected = await api.POST("/api/x-accounts/callback", { headers: auth, body: { state: "s", code: "c" } });
  seen.push(connected.data?.username ?? "");
  const refused = await api.POST("/api/x-accounts/callback", { headers: auth, body: { state: "s", error: "access_denied" } });
  const refusal: string | undefined = refused.error?.code;
  seen.push(refusal ?? "");

  await api.DELETE("/api/x-accounts/{id}", { headers: auth, params: { path: { id: accountId } } });

  const created = await api.POST("/api/posts", {
    headers: auth,
    body: { xAccountId: accountId, text: "Hello from XGrowth", scheduledAt: "2026-12-01T09:00:00+01:00" },
  });
  if (created.error) {
    // Validation errors by field, refusals with a code.
    const title: string | null | undefined = created.error.title;
    const code: string | undefined = created.error.code;
    seen.push(title ?? "", code ?? "");
  } else {
    const post: Post = created.data;
    // A draft has no time; a queued post says so.
    const queued: boolean = post.queued;
    seen.push(post.id, label(post.status), post.xPostUrl ?? "", post.scheduledAt ?? "no time yet", queued ? "queued" : "");
  }

  // Into the account's queue, or a draft (neither time nor queue).
  await api.POST("/api/posts", { headers: auth, body: { xAccountId: accountId, text: "Next free slot", queue: true } });
  await api.POST("/api/posts", { headers: auth, body: { xAccountId: accountId, text: "Later, maybe" } });
  // A thread: parts published in order, each a reply to the one before.
  const thread = await api.POST("/api/posts", {
    headers: auth,
    body: {
      xAccountId: accountId,
      parts: [{ text: "A thread, part 1" }, { text: "Part 2" }, { text: "Part 3" }],
      scheduledAt: "2026-12-01T09:00:00+01:00",
    },
  });
  for (const part of thread.data?.parts ?? []) {
    const media: string[] = part.media.map((m) => m.id);
    seen.push(part.text, part.xPostId ?? "", part.xPostUrl ?? "", ...media);
  }
  await api.PATCH("/api/posts/{id}", { headers: auth, params: { path: { id: postId } }, body: { parts: [{ text: "One" }, { text: "Two" }] } });

  // Media: uploaded as multipart/form-data (the file's type is read from its bytes), then attached to parts by id.
  const file = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: "image/png" });
  const uploaded = await api.POST("/api/media", {
    headers: auth,
    body: { file: "chart.png", altText: "Followers doubled from March to June" },
    bodySerializer: (body) => {
      const form = new FormData();
      form.append("file", file, body.file);
      if (body.altText) form.append("altText", body.altText);
      return form;
    },
  });
  if (uploaded.error) {
    const code: string | undefined = uploaded.error.code;   // unsupported_media_type, media_too_large, invalid_media, ...
    seen.push(code ?? "");
  }
  const mediaId = uploaded.data?.id ?? "";
  const kind: "image" | "gif" | undefined = uploaded.data?.type;
  seen.push(mediaId, kind ?? "", uploaded.data?.contentType ?? "", String(uploaded.data?.width ?? ""), uploaded.data?.altText ?? "");
  const withMedia = await api.POST("/api/posts", {
    headers: auth,
    body: {
      xAccountId: accountId,
      parts: [{ text: "A chart, then a GIF alone", mediaIds: [mediaId] }, { text: "", mediaIds: [mediaId] }],
      scheduledAt: "2026-12-01T09:00:00+01:00",
    },
  });
  for (const media of withMedia.data?.parts.flatMap((part) => part.media) ?? []) {
    const type: "image" | "gif" = media.type;
    seen.push(media.id, type, media.altText ?? "");
  }
  await api.PATCH("/api/posts/{id}", { headers: auth, params: { path: { id: postId } }, body: { parts: [{ text: "Now with", mediaIds: [mediaId] }] } });
  const library = await api.GET("/api/media", { headers: auth, params: { query: { limit: 20 } } });
  seen.push(...(library.data?.items ?? []).map((m) => m.id));
  await api.GET("/api/media", { headers: auth, params: { query: { cursor: library.data?.nextCursor ?? undefined } } });
  const metadata = await api.GET("/api/media/{id}", { headers: auth, params: { path: { id: mediaId } } });
  seen.push(String(metadata.data?.bytes ?? ""), metadata.data?.createdAt ?? "");
  const preview = await api.GET("/api/media/{id}/content", { headers: auth, params: { path: { id: mediaId } }, parseAs: "blob" });
  seen.push(String(preview.data?.size ?? ""));
  await api.PATCH("/api/media/{id}", { headers: auth, params: { path: { id: mediaId } }, body: { altText: "A bar chart" } });
  await api.PATCH("/api/media/{id}", { headers: auth, params: { path: { id: mediaId } }, body: { altText: null } });
  const removed = await api.DELETE("/api/media/{id}", { headers: auth, params: { path: { id: mediaId } } });
  seen.push(removed.error?.code ?? "");   // media_in_use while a post that is not final uses it
  await api.POST("/api/posts/{id}/schedule", { headers: auth, params: { path: { id: postId } }, body: { queue: true } });
  await api.POST("/api/posts/{id}/schedule", { headers: auth, params: { path: { id: postId } }, body: { scheduledAt: "2026-12-03T09:00:00+01:00" } });
  await api.POST("/api/posts/{id}/unschedule", { headers: auth, params: { path: { id: postId } } });
  await api.GET("/api/posts", { headers: auth, params: { query: { status: "draft" } } });

  const settings = await api.GET("/api/me/settings", { headers: auth });
  seen.push(settings.data?.timeZone ?? "");
  await api.PUT("/api/me/settings", { headers: auth, body: { timeZone: "Europe/Berlin" } });

  const schedule = await api.GET("/api/x-accounts/{id}/schedule", { headers: auth, params: { path: { id: accountId } } });
  for (const slot of schedule.data?.slots ?? []) {
    seen.push(slot.day ?? "", slot.time ?? "");
  }
  await api.PUT("/api/x-accounts/{id}/schedule", {
    headers: auth,
    params: { path: { id: accountId } },
    body: { timeZone: "Europe/Berlin", slots: [{ day: "monday", time: "09:30" }, { day: "thursday", time: "17:00" }], jitterMinutes: 5 },
  });
  await api.PUT("/api/x-accounts/{id}/schedule", {
    headers: auth,
    params: { path: { id: accountId } },
    body: { timeZone: "UTC", slots: [{ day: "friday", time: "12:00" }] },
  });

  const queue = await api.GET("/api/x-accounts/{id}/queue", { headers: auth, params: { path: { id: accountId }, query: { count: 20 } } });
  for (const slot of queue.data ?? []) {
    seen.push(slot.at, slot.post ? label(slot.post.status) : "free");
  }
  await api.GET("/api/x-accounts/{id}/queue", { headers: auth, params: { path: { id: accountId } } });
  await api.PUT("/api/x-accounts/{id}/queue/order", { headers: auth, params: { path: { id: accountId } }, body: { postIds: [postId] } });

  const page = await api.GET("/api/posts", {
    headers: auth,
    params: { query: { from: "2026-12-01T00:00:00Z", to: "2027-01-01T00:00:00+01:00", status: "scheduled", xAccountId: accountId, limit: 50 } },
  });
  const next: string | null | undefined = page.data?.nextCursor;
  await api.GET("/api/posts", { headers: auth, params: { query: { cursor: next ?? undefined } } });
  await api.GET("/api/posts", { headers: auth });

  const one = await api.GET("/api/posts/{id}", { headers: auth, params: { path: { id: postId } } });
  seen.push(one.data ? label(one.data.status) : "");

  // A partial edit: text alone, the time alone, or both.
  await api.PATCH("/api/posts/{id}", { headers: auth, params: { path: { id: postId } }, body: { text: "Edited" } });
  await api.PATCH("/api/posts/{id}", { headers: auth, params: { path: { id: postId } }, body: { scheduledAt: "2026-12-02T10:00:00Z" } });
  await api.PATCH("/api/posts/{id}", { headers: auth, params: { path: { id: postId } }, body: { text: "Both", scheduledAt: "2026-12-02T10:00:00Z" } });

  await api.POST("/api/posts/{id}/retry", { headers: auth, params: { path: { id: postId } } });
  await api.POST("/api/posts/{id}/dismiss", { headers: auth, params: { path: { id: postId } } });
  await api.DELETE("/api/posts/{id}", { headers: auth, params: { path: { id: postId } } });

  const calendar = await api.GET("/api/calendar", {
    headers: auth,
    params: { query: { from: "2026-12-01", to: "2026-12-31", tz: "Europe/Berlin" } },
  });
  if (calendar.data) {
    const zone: string = calendar.data.timeZone;
    seen.push(zone);
    for (const day of calendar.data.days) {
      seen.push(day.date, ...day.posts.map((p) => label(p.status)));
    }
    seen.push(...(calendar.data.drafts ?? []).map((p) => p.text));
  }
  await api.GET("/api/calendar", { headers: auth, params: { query: { from: "2026-12-01", to: "2026-12-07", includeDrafts: true } } });
  await api.GET("/api/calendar", { headers: auth, params: { query: { from: "2026-12-01", to: "2026-12-07" } } });

  const followers = await api.GET("/api/analytics/x-accounts/{id}/followers", {
    headers: auth,
    params: { path: { id: accountId }, query: { from: "2026-11-01", to: "2026-11-30", tz: "Europe/Berlin" } },
  });
  for (const day of followers.data?.days ?? []) {
    const count: number | null = day.followers;
    const carried: boolean = day.carried;
    seen.push(day.date, String(count ?? ""), String(day.change ?? ""), String(carried));
  }

  const best = await api.GET("/api/analytics/posts", {
    headers: auth,
    params: { query: { xAccountId: accountId, sort: "engagementRate", limit: 20, from: "2026-11-01T00:00:00Z" } },
  });
  for (const post of best.data?.items ?? []) {
    const rate: number | null = post.engagementRate;
    seen.push(post.xPostId, post.publishedAt, String(rate ?? ""), String(post.metrics?.impressions ?? ""), post.metrics?.reading ?? "");
  }
  await api.GET("/api/analytics/posts", { headers: auth, params: { query: { cursor: best.data?.nextCursor ?? undefined } } });

  const summary = await api.GET("/api/analytics/x-accounts/{id}/summary", {
    headers: auth,
    params: { path: { id: accountId }, query: { period: "90d", tz: "Europe/Berlin" } },
  });
  if (summary.data) {
    const change: number | null = summary.data.followers.change;
    seen.push(String(change ?? ""), String(summary.data.engagementRate ?? ""), summary.data.bestPost?.id ?? "");
    for (const day of summary.data.bestTimes) {
      const hours: (number | null)[] = day.hours;
      seen.push(day.weekday, ...hours.map((rate) => String(rate ?? "")));
    }
  }

  return seen;
}

/** Misuses: each must fail to type-check. */
export async function misuses(accountId: string, postId: string): Promise<void> {
  // @ts-expect-error the calendar's parameters are lowercase (from, to, tz)
  await api.GET("/api/calendar", { params: { query: { From: "2026-12-01", To: "2026-12-31" } } });
  // @ts-expect-error the calendar needs both from and to
  await api.GET("/api/calendar", { params: { query: { from: "2026-12-01" } } });
  // @ts-expect-error status is one of the post statuses
  await api.GET("/api/posts", { params: { query: { status: "pending" } } });
  // @ts-expect-error limit is a number
  await api.GET("/api/posts", { params: { query: { limit: "50" } } });
  // @ts-expect-error a post needs its account
  await api.POST("/api/posts", { body: { text: "Whose?", scheduledAt: "2026-12-01T09:00:00Z" } });
  // @ts-expect-error every part needs its text
  await api.POST("/api/posts", { body: { xAccountId: accountId, parts: [{}], scheduledAt: "2026-12-01T09:00:00Z" } });
  // @ts-expect-error text is a string, never null
  await api.PATCH("/api/posts/{id}", { params: { path: { id: postId } }, body: { text: null } });
  // (An unknown body field is refused by the API with a 400 and marked `additionalProperties: false`, but TypeScript
  // does not check excess properties through openapi-fetch's generic parameters, so no misuse line for it.)
  // @ts-expect-error mediaIds is a list of ids
  await api.POST("/api/posts", { body: { xAccountId: accountId, parts: [{ text: "a", mediaIds: postId }], scheduledAt: "2026-12-01T09:00:00Z" } });
  // @ts-expect-error an upload needs its file
  await api.POST("/api/media", { body: { altText: "No file" } });
  // @ts-expect-error alt text is text
  await api.PATCH("/api/media/{id}", { params: { path: { id: postId } }, body: { altText: 5 } });
  // @ts-expect-error a schedule needs its slots
  await api.PUT("/api/x-accounts/{id}/schedule", { params: { path: { id: accountId } }, body: { timeZone: "UTC" } });
  // @ts-expect-error count is a number
  await api.GET("/api/x-accounts/{id}/queue", { params: { path: { id: accountId }, query: { count: "20" } } });
  // @ts-expect-error the order is a list of post ids
  await api.PUT("/api/x-accounts/{id}/queue/order", { params: { path: { id: accountId } }, body: { postIds: postId } });
  // @ts-expect-error the callback needs the state
  await api.POST("/api/x-accounts/callback", { body: { code: "c" } });
  // @ts-expect-error analytics sort by impressions, likes or engagementRate only
  await api.GET("/api/analytics/posts", { params: { query: { sort: "retweets" } } });
  // @ts-expect-error a summary's period is 7d, 30d or 90d
  await api.GET("/api/analytics/x-accounts/{id}/summary", { params: { path: { id: accountId }, query: { period: "1y" } } });
  // @ts-expect-error there is no such status
  const status: PostStatus = "draft_";
  void status;
}
