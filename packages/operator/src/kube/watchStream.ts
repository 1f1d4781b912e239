// A watch response is one JSON event per line. Events carry the object without its type meta (as
// lists do), so it is restored; an ERROR event is the API server's Status, turned into its typed
// error (410 Gone tells the informer to re-list).
import { Effect, Schema, Stream } from "effect"
import { fromStatus, type KubeError } from "./kubeErrors.ts"
import { fromServer, type KubeObject, type ResourceType } from "./resourceType.ts"

export type WatchEvent<A> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: A }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

const EventLine = Schema.fromJsonString(
  Schema.Struct({ type: Schema.String, object: Schema.Record(Schema.String, Schema.Unknown) }),
)
const BookmarkMetadata = Schema.Struct({ resourceVersion: Schema.optionalKey(Schema.String) })
const decodeLine = Schema.decodeUnknownResult(EventLine)
const decodeBookmark = Schema.decodeUnknownOption(BookmarkMetadata)

export const watchEvents =
  <A extends KubeObject>(type: ResourceType<A>, request: string) =>
  <E>(bytes: Stream.Stream<Uint8Array, E>): Stream.Stream<WatchEvent<A>, E | KubeError> =>
    bytes.pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.filterMap((line) => decodeLine(line)),
      Stream.mapEffect((event): Effect.Effect<WatchEvent<A>, KubeError> => {
        switch (event.type) {
          case "ADDED":
          case "MODIFIED":
          case "DELETED":
            return Effect.succeed({ type: event.type, object: fromServer(type, event.object) })
          case "BOOKMARK": {
            const metadata = decodeBookmark(event.object.metadata)
            return Effect.succeed({
              type: "BOOKMARK",
              resourceVersion: metadata._tag === "Some" ? (metadata.value.resourceVersion ?? "") : "",
            })
          }
          default: {
            const code = typeof event.object.code === "number" ? event.object.code : 500
            return Effect.fail(fromStatus(request, code, event.object))
          }
        }
      }),
    )
