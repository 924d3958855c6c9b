#!/bin/sh
# Start Synapse the way its image does (/start.py run), with homeserver.yaml, any extra
# config given as arguments (a worker's own file), and last the Synapse settings that
# `ungechat provision apply` writes beside the bot's registration (docs/deploy.md). Until
# the first apply has written them, Synapse starts without them (and federates with
# nobody, as homeserver.yaml says) and says so.
set -eu
fragment=/config/appservice/ungechat-registration.homeserver-fragment.yaml
set -- --config-path /config/homeserver.yaml "$@"
if [ -e "$fragment" ]; then
    set -- "$@" --config-path "$fragment"
else
    echo "ungechat: $fragment is not written yet: run 'ungechat provision apply'," \
        "then restart Synapse" >&2
fi
exec /start.py run "$@"
