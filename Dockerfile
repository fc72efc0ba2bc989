# WeChat Cloud Hosting (微信云托管) image: the same binary as the SCF function, run as an HTTP
# server on port 80 (Cloud Hosting's default container port; container.config.json).
# Conventions from the platform's Go template (WeixinCloud/wxcloudrun-golang): Dockerfile at
# the repository root, multi-stage build, CA certificates in the runtime image, one CMD.
# deploy/ checks this file's instructions in CI and runs the binary as this image would.

# Build stage: a static Linux binary (no cgo, so no libc needed at run time).
FROM golang:1.26-alpine AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags="-s -w -X github.com/wxocr/scf-idcard-ocr/app.Version=${VERSION}" \
      -o /out/main .

# Runtime stage: CA certificates for https calls to WeChat, an unprivileged user, the binary.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates \
 && addgroup -S -g 10001 app \
 && adduser -S -D -H -u 10001 -G app app
COPY --from=build /out/main /app/main
# Port 80 is below 1024: grant the binary (not the user) the one capability it needs to bind
# it, in this stage, because COPY --from does not carry file capabilities on every builder
# (moby/moby#38132). libcap is removed again afterwards.
RUN apk add --no-cache libcap \
 && setcap cap_net_bind_service=+ep /app/main \
 && apk del libcap
# Open interface service (开放接口服务): calls to http://api.weixin.qq.com from inside the
# container need no access_token once the service has it enabled and the two APIs
# (/cv/ocr/idcard, /tcb/batchdownloadfile) are on its allowlist. To use the token WeChat
# pushes into the container instead, set TOKEN_SOURCE=cloudbase (README "Deploy").
# CLOUD_HOSTING=true: wx.cloud.callContainer requests are authenticated by the X-WX-SOURCE and
# X-WX-OPENID headers the platform sets (no API key) and limited per openid; never set it
# where clients can reach the container directly. GOMEMLIMIT sits under the 0.5 GB of
# container.config.json so the GC works before the container is killed.
ENV TOKEN_SOURCE=none \
    WX_API_BASE=http://api.weixin.qq.com \
    CLOUD_HOSTING=true \
    GOMEMLIMIT=384MiB \
    LOG_LEVEL=info
USER 10001:10001
EXPOSE 80
ENTRYPOINT ["/app/main"]
CMD ["serve", "--addr", "0.0.0.0:80"]
