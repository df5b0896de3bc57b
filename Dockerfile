# syntax=docker/dockerfile:1
# leash: an egress firewall for AI agents. Multi-stage: build with the dev toolchain, run with production
# dependencies only, as a non-root user. Policies and certs are volumes so operators manage them outside the image.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY policies ./policies
RUN mkdir -p /app/certs /var/log/leash && chown node:node /app/certs /var/log/leash
USER node
VOLUME ["/app/policies", "/app/certs"]
EXPOSE 3128
# GET /healthz (origin-form, answered by leash itself) returns "ok <policy revision>".
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:3128/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# Listen on all interfaces inside the container; publish the port only to the agents' network.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve", "--listen", "0.0.0.0:3128", "--policy", "/app/policies", "--audit", "-"]
