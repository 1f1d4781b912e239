# syntax=docker/dockerfile:1
# The operator image: one bundled file on distroless Node, run as uid 65532.
# Base digests were copied from public Dockerfiles, not resolved here (no registry access);
# check them with `docker buildx imagetools inspect <image>` when bumping.

# Build: install from the lockfile and bundle the operator (esbuild, one ESM file for node24).
FROM node:24-bookworm-slim@sha256:2fe369e969550cde8e867afc3fe370b260140cab4a23d467074295b42163d553 AS build
WORKDIR /src
RUN corepack enable
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY e2e/package.json ./e2e/package.json
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile
RUN pnpm run bundle && test -s dist/operator.mjs

# Run: node and the bundle only; no shell, no package manager.
FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a
WORKDIR /app
COPY --from=build /src/dist/operator.mjs /app/operator.mjs
# Node options and MALLOC_ARENA_MAX as packages/operator/src/build/imageRuntime.ts (pnpm bench measures them).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "--optimize-for-size", "/app/operator.mjs"]
