# syntax=docker/dockerfile:1
# The secrets-store-csi node agent image. Build: docker build -t secrets-store-csi:0.1.0 .
# (optionally --build-arg BUILD_COMMIT=$(git rev-parse HEAD) --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ),
# which `secrets-store-csi --version` prints).

# ---- build: all dependencies, compile TypeScript to dist/ and bundle it into dist/bundle ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY scripts/bundle.mjs ./scripts/bundle.mjs
COPY src ./src
RUN npm run build

# ---- runtime: the bundled driver, koffi (a native module, not bundled), the protos, mount(8) ----
FROM node:20-bookworm-slim
# util-linux brings mount/umount (the driver mounts a tmpfs at each target); /bin/sh comes with the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends mount util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY proto ./proto
COPY --from=build /app/dist/bundle ./dist/bundle
ARG BUILD_COMMIT=unknown
ARG BUILD_DATE=unknown
ENV BUILD_COMMIT=${BUILD_COMMIT} BUILD_DATE=${BUILD_DATE}
# Root: mounting and unmounting tmpfs under the kubelet's pods directory needs CAP_SYS_ADMIN (the pod is privileged).
# The restarter (`restarter` instead of `driver`) runs from the same image as a non-root user its pod names.
USER root
ENTRYPOINT ["node", "dist/bundle/main.js"]
CMD ["driver"]
