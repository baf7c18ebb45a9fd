#!/usr/bin/env bash
# Writes the ccproxy(1) man page, generated from the built
# program's own help (`ccproxy help` and `ccproxy <command> --help`), so the
# page cannot drift from the program. Only the sections the help does not
# cover (environment, files, see also) are written here.
#   scripts/gen-man.sh path/to/ccproxy [OUT]   (OUT, else stdout)
set -euo pipefail
BIN=$1
if [[ -n ${2:-} ]]; then
  # Written whole or not at all: a failed run leaves no half page behind.
  "$0" "$BIN" >"$2.tmp" && mv "$2.tmp" "$2"
  exit
fi
VERSION=$("$BIN" version | sed -n 's/^ccproxy \([^ ]*\).*/\1/p')

# Help text as roff: escape backslashes, keep lines starting with . or '
# from being read as requests, and show it as preformatted text.
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
block() { echo '.nf'; roff; echo '.fi'; }

cat <<HEAD
.TH CCPROXY 1 "" "ccproxy $VERSION" "User Commands"
.SH NAME
ccproxy \\- let Claude Code use any model provider
.SH SYNOPSIS
.B ccproxy
.I command
.RI [ options ]
.SH DESCRIPTION
HEAD
# The general help without its usage line, which SYNOPSIS gives.
"$BIN" help | sed '1{/^usage:/d}' | sed '/./,$!d' | block
echo '.SH COMMANDS'
for cmd in $("$BIN" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'); do
  echo ".SS $cmd"
  "$BIN" "$cmd" --help | block
done
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B CCPROXY_CONFIG
the config file, when no
.B \-\-config
is given
.TP
.BR ANTHROPIC_API_KEY ", " OPENROUTER_API_KEY ", " DEEPSEEK_API_KEY ", " OPENAI_API_KEY ", " GEMINI_API_KEY
with no config file, the embedded default configures a provider for each one set
.TP
.BR HTTPS_PROXY ", " HTTP_PROXY ", " NO_PROXY
honoured for connections to providers
.TP
.B XDG_STATE_HOME
where the pid, state and log files of a running proxy go (default
.IR ~/.local/state )
.TP
.B ANTHROPIC_BASE_URL
set by
.B ccproxy code
for Claude Code; read by
.B ccproxy statusline
to find the proxy
.TP
.B NO_COLOR
when set and not empty, no command writes colour
.SH EXIT STATUS
0 on success, 1 on failure, 2 for a usage error.
.B ccproxy status
exits 3 when no proxy runs for the config (the LSB convention),
.B ccproxy code
exits with Claude Code's own status (127 when it is not installed); each
command's section above lists its codes.
.SH SIGNALS
.TP
.BR SIGTERM ", " SIGINT
stop accepting, let requests in flight finish (up to
.BR server.drain_timeout_ms ),
exit 0
.TP
.B SIGHUP
reload the config file; one with errors is refused and the config in force keeps serving
.SH FILES
.TP
.I ./ccproxy.yaml
.TQ
.I ~/.config/ccproxy/config.yaml
the config files looked for, in this order, after
.B \-\-config
and
.BR CCPROXY_CONFIG
.TP
.I $XDG_STATE_HOME/ccproxy/NAME-HASH.pid
.TQ
.I $XDG_STATE_HOME/ccproxy/NAME-HASH.json
.TQ
.I $XDG_STATE_HOME/ccproxy/NAME-HASH.log
a running proxy's pid (locked while it runs), its address, and the log of one started by
.BR "ccproxy start" ;
one set per config file, NAME being the file's name and HASH a hash of its path
.SH SEE ALSO
The documentation in
.I share/doc/ccproxy
under the installation prefix (configuration.md, routing.md, transformers.md, errors.md, ...),
and ready configurations in its
.I examples
folder.
TAIL
