#!/bin/sh
# Runs in the agent image (Debian, where bot-bottle's Node and Claude Code are installed): gathers what
# the agent layer copies onto a user's image into /opt/bot-bottle. Node and the spare tools keep the
# glibc they were built against (its loader and libraries, in glibc/), so they run on any image.
set -eu
B=/opt/bot-bottle
mkdir -p "$B/glibc" "$B/node/bin" "$B/libexec" "$B/bin"
cp /usr/local/bin/node "$B/node/bin/node"
# Tools the provisioners, the workspace copy, the exec agent and a kept agent's detachable session
# (dtach) run; a stand-in is put on PATH only for those the user's image lacks (setup.mjs decides).
for tool in tar chmod chown mkdir rm cat dtach; do cp "$(command -v "$tool")" "$B/libexec/$tool"; done
for bin in "$B/node/bin/node" "$B/libexec/"*; do
  ldd "$bin" | sed -n 's/^.*=> \(\/[^ ]*\) (0x.*$/\1/p'
done | sort -u | while read -r lib; do cp -L "$lib" "$B/glibc/"; done
loader="$(ldd "$B/node/bin/node" | sed -n 's/^[[:space:]]*\(\/[^ ]*ld-linux[^ ]*\) (0x.*$/\1/p' | head -1)"
[ -n "$loader" ] || { echo "collect: no glibc loader found for node" >&2; exit 1; }
cp -L "$loader" "$B/glibc/ld.so"
"$B/glibc/ld.so" --library-path "$B/glibc" "$B/node/bin/node" -e 'process.exit(0)'
# A shell launcher for scripts (the update-ca-certificates and runuser stand-ins, an agent's JS bin).
cat > "$B/node/run" <<'SH'
#!/bin/sh
exec /opt/bot-bottle/glibc/ld.so --library-path /opt/bot-bottle/glibc /opt/bot-bottle/node/bin/node "$@"
SH
chmod 755 "$B/node/run"
# The agent as the agent image installed it (agent.env says where): its whole folder. A native bin
# is linked as it is; a script bin runs with bot-bottle's Node, never the image's own.
. /usr/local/lib/bot-bottle/agent.env
cp -a "$AGENT_DIR" "$B/agent"
if [ "$(head -c 4 "$B/agent/$AGENT_BIN_PATH" | od -An -c | tr -d ' ')" = '177ELF' ]; then
  ln -s "../agent/$AGENT_BIN_PATH" "$B/bin/$AGENT_CMD"
else
  printf '#!/bin/sh\nexec /opt/bot-bottle/node/run /opt/bot-bottle/agent/%s "$@"\n' "$AGENT_BIN_PATH" > "$B/bin/$AGENT_CMD"
  chmod 755 "$B/bin/$AGENT_CMD"
fi
