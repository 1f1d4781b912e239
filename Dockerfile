# syntax=docker/dockerfile:1
# The operator image: one bundled file on distroless Node, run as uid 65532.
#
# Base images are pinned by the digest of their multi-arch index (amd64 and arm64). These digests
# were copied from public Dockerfiles and could not be resolved where this file was written (no
# registry access). To check or refresh one, resolve the tag and paste the index digest after `@`:
#   docker buildx imagetools inspect node:24-bookworm-slim --format '{{json .Manifest.Digest}}'
#   docker buildx imagetools inspect gcr.io/distroless/nodejs24-debian12:nonroot --format '{{json .Manifest.Digest}}'
# (or `crane digest <image>`). Dependabot (.github/dependabot.yml) proposes new digests weekly.
# A wrong digest fails the build at `FROM`, never silently.

# Build: install from the lockfile and bundle the operator (esbuild, one ESM file for node24). The
# bundle is plain JavaScript, so this stage runs on the build machine's platform for every target.
FROM --platform=$BUILDPLATFORM node:24-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553 AS build
WORKDIR /src
RUN corepack enable
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY e2e/package.json ./e2e/package.json
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile
RUN pnpm run bundle && test -s dist/operator.mjs

# Run: node and the bundle only; no shell, no package manager. `pnpm bundle` made the file (the
# operator test packages/operator/test/bundle.contract.test.ts runs that same bundle). The chart's
# uninstall hook runs this image too, as `operator.mjs uninstall`.
FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a
WORKDIR /app
COPY --from=build /src/dist/operator.mjs /app/operator.mjs
# Node options and MALLOC_ARENA_MAX as packages/operator/src/build/imageRuntime.ts (pnpm bench measures them).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "--optimize-for-size", "/app/operator.mjs"]
