# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tonewatch_global_optspecs
    string join \n log-format= h/help V/version
end

function __fish_tonewatch_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tonewatch_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tonewatch_using_subcommand
    set -l cmd (__fish_tonewatch_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tonewatch -n "__fish_tonewatch_needs_command" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -s V -l version -d 'Print version'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "replay" -d 'Analyse a recorded call (WAV) as fast as the disk allows'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "live" -d 'Listen to calls as they happen, from audio devices, for a shift'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "call" -d 'Mark where a call begins or ends, for a running `tonewatch live` (over its control socket): `tonewatch call start --id ID`, `tonewatch call end`. For a CTI connector or a softphone\'s scripts; without them, `live` finds calls by activity'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "devices" -d 'List the audio input devices `live` can use'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "serve" -d 'Take calls straight from the phone system over WebSocket: Genesys AudioHook (--api-keys) and Twilio-style media streams (--stream-path; Twilio, SignalWire, Telnyx, Plivo)'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "supervise" -d 'One supervisor page for a whole floor: subscribes to every desk\'s alerts on NATS (what `live --nats` publishes) and serves them like `--feed` does, until Ctrl-C'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "trends" -d 'Each agent\'s trend across calls, for coaching: reads the folders `replay DIR --out OUT` wrote and writes trends.html and trends.csv (per agent and week: calls, talk, alerts per hour of talk by kind, talk-to-listen, customer agitation heard, escalations; the agent\'s own voice only with --agent-voice)'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "config" -d 'Show or check the configuration (every threshold, with its meaning)'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "completions" -d 'Print a shell completion script: bash, zsh, fish, elvish or powershell (e.g. `tonewatch completions bash > /etc/bash_completion.d/tonewatch`)'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "man" -d 'Print the man page (roff): `tonewatch man | man -l -`; `tonewatch man replay` for a subcommand\'s (tonewatch-replay(1)), or `--out DIR` to write every page there (tonewatch.1, tonewatch-replay.1, ...)'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "schema" -d 'Print the JSON Schema (draft 2020-12) of every JSON Lines record replay and live print: frame, alert, agitation, summary, call, shift (with `call_id` on the lines of a call in a stream of calls). Its `$id` carries the schema\'s version, raised when a record changes incompatibly'
complete -c tonewatch -n "__fish_tonewatch_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l report -d 'Also write the coaching report: one self-contained HTML page with a timeline of both parties (talking, pitch, rate, loudness, agitation), the alerts and the summary' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l out -d 'For a folder of calls: where each call\'s NAME.jsonl and NAME.html, and calls.csv with a row per call, go (created if missing)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed -d 'Serve the supervisor feed on ADDR (e.g. 127.0.0.1:7878): a live web page at /, Server-Sent Events at /events, /healthz, and Prometheus /metrics. Any address but loopback needs --feed-token' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed-token -d 'Token the feed asks for, needed off loopback (Authorization: Bearer TOKEN, or ?token=TOKEN in the page\'s address)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed-tls-cert -d 'Serve the feed over HTTPS with this certificate chain (PEM), with --feed-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed-tls-key -d 'The certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed-allow-origin -d 'A web origin (https://wall.example.com) whose pages may read the feed from script (CORS); repeat for more. None by default: only the feed\'s own page' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed-allow-host -d 'A host name the feed answers to (the name in the page\'s address); repeat for more. IP addresses and localhost always work; a loopback feed answers no other name unless listed' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l feed-max-connections -d 'Connections the feed serves at once; more are answered 503 (/healthz still 200). Keep it under the process\'s descriptor limit' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats -d 'Publish every alert (and agitation readings and the summary) to this NATS server, as tonewatch.alerts.SITE.AGENT (tonewatch.agitation..., tonewatch.summary...), for `tonewatch supervise` on a whole floor. Several servers of a cluster: comma-separated. Credentials may be written into the URL (nats://user:pass@host, nats://token@host) or given with the --nats-* options' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-token -d 'NATS token [env: TONEWATCH_NATS_TOKEN]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-user -d 'NATS user, with --nats-password' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-password -d 'The NATS user\'s password [env: TONEWATCH_NATS_PASSWORD]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-nkey -d 'A file holding an nkey seed (a line starting SU)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-creds -d 'A .creds file (user JWT and seed, as `nsc` writes them)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-tls-cert -d 'Client certificate (PEM) for mutual TLS, with --nats-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-tls-key -d 'The client certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l nats-tls-ca -d 'A CA certificate (PEM) to trust besides the system\'s, for a server with a site\'s own CA; TLS is then required' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l agent-name -d 'This agent\'s name on the feed and on NATS [default: $USER]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l site -d 'The site (floor, team) this agent belongs to' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l pace -d 'Play the call at this multiple of real time (1 = as it happened, 0.01 to 1000), to watch it on the --feed page; 0 = as fast as possible' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l jobs -d 'For a folder of calls: calls analysed at once [default: the number of cores]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l agent -d 'Mono recording of the agent (with --customer)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l customer -d 'Mono recording of the customer (with --agent)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l agent-channel -d 'Which side of a stereo file is the agent' -r -f -a "left\t'Left channel (the usual recorder convention)'
right\t'Right channel'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l speaker -d 'Who is talking in a mono file' -r -f -a "agent\t''
customer\t''"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l config -d 'Thresholds and settings (see `tonewatch config --default`). Without it: $XDG_CONFIG_HOME/tonewatch/config.toml (~/.config/...), else /etc/tonewatch/config.toml, else the defaults; `tonewatch config --show` says which' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l profile -d 'The agent\'s profile: their baseline is read from it at the start (if it exists) and saved to it at the end, so a known agent is calibrated from the first second' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l calls -d '`whole`: the recording is one call. `auto`: a recorded shift; calls start when the customer talks and end after [calls] gap_s (20 s) of silence on both sides, each with its own `call` records, call_id and summary, the customer\'s baseline fresh and the agent\'s carried from call to call' -r -f -a "whole\t'One call from start to end'
auto\t'Calls found by activity (and, in `live`, marked by `tonewatch call` or the softphone\'s stream)'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l hop-ms -d 'Distance between frames, in milliseconds [default: 10, or the config\'s]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l window-ms -d 'Samples each frame looks at, in milliseconds: at least two periods of the lowest pitch [default: 30, or the config\'s]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l notify -d 'Nudge the agent with a desktop notification when an alert for them is raised (at most one per nudges.min_interval_s, 30 s); without a desktop session the nudges are log lines'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l share-agent-alerts -d 'Publish the agent\'s own voice to the feed and NATS too: pace, pitch and loudness alerts, and the agent\'s pitch, rate and loudness in summaries. Off by default: they are the agent\'s private coaching aid (inferring an employee\'s emotions at work is prohibited in the EU); stdout and the agent\'s nudges always have them'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l frames -d 'Print every analysis frame too'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -l allow-clipped -d 'Analyse even when over 1 % of a channel is clipped at full scale'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand replay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l agent -d 'The agent\'s microphone: an index or a piece of the name from `tonewatch devices`, or "default"' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l customer -d 'The customer\'s audio, e.g. the monitor of the softphone\'s output' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l stereo -d 'One device carrying both parties on its first two channels' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l agent-channel -d 'With --stereo: which channel is the agent' -r -f -a "left\t'Left channel (the usual recorder convention)'
right\t'Right channel'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l host -d 'Audio system to capture from' -r -f -a "auto\t'PulseAudio (or PipeWire\'s PulseAudio server) when running, else ALSA'
pulse\t'PulseAudio / PipeWire'
alsa\t'ALSA directly'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l calls -d '`auto`: a shift of calls, each with its own `call` records, call_id, summary and fresh customer baseline (the agent\'s baseline and --profile carried across, the profile saved at each call\'s end). Calls are marked by `tonewatch call start|end` on the control socket; until one is, they are found by activity ([calls] gap_s). `whole`: the run is one call' -r -f -a "whole\t'One call from start to end'
auto\t'Calls found by activity (and, in `live`, marked by `tonewatch call` or the softphone\'s stream)'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l call-app -d 'The softphone: while it plays a stream on the audio server (its PulseAudio/PipeWire `application.name` or `application.process.binary`, e.g. "zoiper", as `pactl list sink-inputs` shows), a call is on; its stream appearing starts a call, its last stream going ends it' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l control-socket -d 'The control socket for `tonewatch call` [default: $XDG_RUNTIME_DIR/tonewatch/control.sock; none when that is unset]' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l config -d 'Thresholds and settings (see `tonewatch config --default`). Without it: $XDG_CONFIG_HOME/tonewatch/config.toml (~/.config/...), else /etc/tonewatch/config.toml, else the defaults; `tonewatch config --show` says which' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l profile -d 'The agent\'s profile: their baseline is read from it at the start (if it exists) and saved to it at the end, so a known agent is calibrated from the first second' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed -d 'Serve the supervisor feed on ADDR (e.g. 127.0.0.1:7878): a live web page at /, Server-Sent Events at /events, /healthz, and Prometheus /metrics. Any address but loopback needs --feed-token' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed-token -d 'Token the feed asks for, needed off loopback (Authorization: Bearer TOKEN, or ?token=TOKEN in the page\'s address)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed-tls-cert -d 'Serve the feed over HTTPS with this certificate chain (PEM), with --feed-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed-tls-key -d 'The certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed-allow-origin -d 'A web origin (https://wall.example.com) whose pages may read the feed from script (CORS); repeat for more. None by default: only the feed\'s own page' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed-allow-host -d 'A host name the feed answers to (the name in the page\'s address); repeat for more. IP addresses and localhost always work; a loopback feed answers no other name unless listed' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l feed-max-connections -d 'Connections the feed serves at once; more are answered 503 (/healthz still 200). Keep it under the process\'s descriptor limit' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats -d 'Publish every alert (and agitation readings and the summary) to this NATS server, as tonewatch.alerts.SITE.AGENT (tonewatch.agitation..., tonewatch.summary...), for `tonewatch supervise` on a whole floor. Several servers of a cluster: comma-separated. Credentials may be written into the URL (nats://user:pass@host, nats://token@host) or given with the --nats-* options' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-token -d 'NATS token [env: TONEWATCH_NATS_TOKEN]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-user -d 'NATS user, with --nats-password' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-password -d 'The NATS user\'s password [env: TONEWATCH_NATS_PASSWORD]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-nkey -d 'A file holding an nkey seed (a line starting SU)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-creds -d 'A .creds file (user JWT and seed, as `nsc` writes them)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-tls-cert -d 'Client certificate (PEM) for mutual TLS, with --nats-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-tls-key -d 'The client certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l nats-tls-ca -d 'A CA certificate (PEM) to trust besides the system\'s, for a server with a site\'s own CA; TLS is then required' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l agent-name -d 'This agent\'s name on the feed and on NATS [default: $USER]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l site -d 'The site (floor, team) this agent belongs to' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l no-profile -d 'Keep no profile. Without this or --profile, the agent\'s profile is $XDG_STATE_HOME/tonewatch/profiles/AGENT.toml (~/.local/state/...; AGENT from --agent-name, else $USER), so the next run starts from their baseline'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l frames -d 'Print every analysis frame too'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l notify -d 'Nudge the agent with a desktop notification when an alert for them is raised (at most one per nudges.min_interval_s, 30 s); without a desktop session the nudges are log lines'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -l share-agent-alerts -d 'Publish the agent\'s own voice to the feed and NATS too: pace, pitch and loudness alerts, and the agent\'s pitch, rate and loudness in summaries. Off by default: they are the agent\'s private coaching aid (inferring an employee\'s emotions at work is prohibited in the EU); stdout and the agent\'s nudges always have them'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand live" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and not __fish_seen_subcommand_from start end help" -l socket -d 'The daemon\'s control socket [default: $XDG_RUNTIME_DIR/tonewatch/control.sock]' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and not __fish_seen_subcommand_from start end help" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and not __fish_seen_subcommand_from start end help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and not __fish_seen_subcommand_from start end help" -f -a "start" -d 'A call begins now (ending one that is open); prints its call_id'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and not __fish_seen_subcommand_from start end help" -f -a "end" -d 'The open call ends now: its summary is printed'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and not __fish_seen_subcommand_from start end help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from start" -l id -d 'The call\'s id, e.g. the phone system\'s (1-128 letters, digits and - _ . :) [default: a fresh UUID v7]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from start" -l customer-ref -d 'The CTI\'s reference for the customer, carried on the call\'s `call` records' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from start" -l socket -d 'The daemon\'s control socket [default: $XDG_RUNTIME_DIR/tonewatch/control.sock]' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from start" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from end" -l socket -d 'The daemon\'s control socket [default: $XDG_RUNTIME_DIR/tonewatch/control.sock]' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from end" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from end" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from help" -f -a "start" -d 'A call begins now (ending one that is open); prints its call_id'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from help" -f -a "end" -d 'The open call ends now: its summary is printed'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand call; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand devices" -l host -d 'Audio system to ask' -r -f -a "auto\t'PulseAudio (or PipeWire\'s PulseAudio server) when running, else ALSA'
pulse\t'PulseAudio / PipeWire'
alsa\t'ALSA directly'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand devices" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand devices" -l json -d 'One JSON object per device instead of a table'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand devices" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l listen -d 'Where to take calls (and answer /healthz, /readyz, /metrics)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l api-keys -d 'Genesys AudioHook: a file of API keys, one per line, `KEY` or `KEY:CLIENT_SECRET` (the secret base64, as Genesys Cloud shows it). A key with a secret must sign its requests (HTTP Message Signatures); one without may connect unsigned. Without this file AudioHook is off' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l audiohook-path -d 'The path AudioHook connects to (the Connection URI\'s path)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l stream-path -d 'Twilio-style media streams (Twilio, SignalWire, Telnyx, Plivo): the path the <Stream> URL points at. Make it long and random, and give --stream-token too: these platforms send no key. Without it media streams are off' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l stream-token -d 'A token every media stream must carry as its `token` parameter (<Parameter name="token" value="..."/> in the <Stream>), besides the path; a stream without it is closed (1008, unauthorized)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l site -d 'The site (floor, team) calls belong to, unless a call\'s parameters name one (AudioHook customConfig.site, a <Stream> <Parameter> "site")' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l workers -d 'Analysis threads [default: one per core]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l io-threads -d 'Network threads' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l max-calls -d 'Calls at once; more are refused with 503 (and /readyz says so)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l max-frame-bytes -d 'The largest WebSocket message taken, bytes' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l idle-timeout-s -d 'A call with no message for this many seconds is ended' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l drain-s -d 'On SIGTERM or Ctrl-C, how long open calls get to finish their summaries before the process ends' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l config -d 'Thresholds and settings (as for replay and live)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed -d 'Serve the supervisor feed on ADDR too (see `live --help`)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed-token -d 'Token the feed asks for, needed off loopback (Authorization: Bearer TOKEN, or ?token=TOKEN in the page\'s address)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed-tls-cert -d 'Serve the feed over HTTPS with this certificate chain (PEM), with --feed-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed-tls-key -d 'The certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed-allow-origin -d 'A web origin (https://wall.example.com) whose pages may read the feed from script (CORS); repeat for more. None by default: only the feed\'s own page' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed-allow-host -d 'A host name the feed answers to (the name in the page\'s address); repeat for more. IP addresses and localhost always work; a loopback feed answers no other name unless listed' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l feed-max-connections -d 'Connections the feed serves at once; more are answered 503 (/healthz still 200). Keep it under the process\'s descriptor limit' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats -d 'Publish every call\'s records to this NATS server, as tonewatch.alerts.SITE.AGENT (see `live --help`): how a floor served by several instances reaches one `tonewatch supervise`' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-token -d 'NATS token [env: TONEWATCH_NATS_TOKEN]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-user -d 'NATS user, with --nats-password' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-password -d 'The NATS user\'s password [env: TONEWATCH_NATS_PASSWORD]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-nkey -d 'A file holding an nkey seed (a line starting SU)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-creds -d 'A .creds file (user JWT and seed, as `nsc` writes them)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-tls-cert -d 'Client certificate (PEM) for mutual TLS, with --nats-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-tls-key -d 'The client certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l nats-tls-ca -d 'A CA certificate (PEM) to trust besides the system\'s, for a server with a site\'s own CA; TLS is then required' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l share-agent-alerts -d 'Publish the agents\' own voice too (pace, pitch and loudness alerts, their figures in summaries). Off by default: see `live --help`'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -l quiet -d 'Print nothing on stdout (records still go to the feed and NATS)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats -d 'The NATS server the desks publish to (several: comma-separated; credentials in the URL or with the --nats-* options)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-token -d 'NATS token [env: TONEWATCH_NATS_TOKEN]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-user -d 'NATS user, with --nats-password' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-password -d 'The NATS user\'s password [env: TONEWATCH_NATS_PASSWORD]' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-nkey -d 'A file holding an nkey seed (a line starting SU)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-creds -d 'A .creds file (user JWT and seed, as `nsc` writes them)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-tls-cert -d 'Client certificate (PEM) for mutual TLS, with --nats-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-tls-key -d 'The client certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l nats-tls-ca -d 'A CA certificate (PEM) to trust besides the system\'s, for a server with a site\'s own CA; TLS is then required' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed -d 'Where to serve the page, /events, /healthz and /metrics' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed-token -d 'Token the feed asks for, needed off loopback (Authorization: Bearer TOKEN, or ?token=TOKEN in the page\'s address)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed-tls-cert -d 'Serve the feed over HTTPS with this certificate chain (PEM), with --feed-tls-key' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed-tls-key -d 'The certificate\'s private key (PEM)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed-allow-origin -d 'A web origin (https://wall.example.com) whose pages may read the feed from script (CORS); repeat for more. None by default: only the feed\'s own page' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed-allow-host -d 'A host name the feed answers to (the name in the page\'s address); repeat for more. IP addresses and localhost always work; a loopback feed answers no other name unless listed' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l feed-max-connections -d 'Connections the feed serves at once; more are answered 503 (/healthz still 200). Keep it under the process\'s descriptor limit' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand supervise" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -l out -d 'Where trends.html and trends.csv go [default: the first folder]' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -l agent-name -d 'Every call is this agent\'s (else the part of the file name before its first `_`: sam_2026-11-30_0915.jsonl is sam\'s)' -r
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -l agents -d 'A CSV of `file,agent` rows mapping calls to agents (the file named as in the folder, with or without its extension)' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -l config -d 'Configuration (for `[wellbeing] hard_call_agitation_s`); else the one discovered, else the defaults' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -l agent-voice -d 'Include each agent\'s own voice: their pitch, pace and loudness alerts, pitch and rate call by call, hard calls. Off by default: these are the agent\'s and their coach\'s (inferring an employee\'s emotions at work is prohibited in the EU)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand trends" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand config" -l config -d 'With --show: this file instead of the one discovered' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand config" -l check -d 'Check a configuration file; exit code 2 with the bad key if it is wrong' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand config" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand config" -l default -d 'Print the default configuration, documented, as TOML'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand config" -l show -d 'Print the configuration replay and live would use (every value), after a comment saying where it comes from: --config\'s file (TONEWATCH_CONFIG), the user\'s or the system\'s, or the defaults'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand completions" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand man" -l out -d 'Write every page into this folder instead' -r -F
complete -c tonewatch -n "__fish_tonewatch_using_subcommand man" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand schema" -l log-format -d 'Log lines on stderr as text, or as one JSON object per line (for journald\'s and log shippers\' parsers). RUST_LOG sets the level (warn by default); NO_COLOR turns colours off on a terminal' -r -f -a "text\t'`LEVEL target: message key=value`'
json\t'`{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`'"
complete -c tonewatch -n "__fish_tonewatch_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "replay" -d 'Analyse a recorded call (WAV) as fast as the disk allows'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "live" -d 'Listen to calls as they happen, from audio devices, for a shift'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "call" -d 'Mark where a call begins or ends, for a running `tonewatch live` (over its control socket): `tonewatch call start --id ID`, `tonewatch call end`. For a CTI connector or a softphone\'s scripts; without them, `live` finds calls by activity'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "devices" -d 'List the audio input devices `live` can use'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "serve" -d 'Take calls straight from the phone system over WebSocket: Genesys AudioHook (--api-keys) and Twilio-style media streams (--stream-path; Twilio, SignalWire, Telnyx, Plivo)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "supervise" -d 'One supervisor page for a whole floor: subscribes to every desk\'s alerts on NATS (what `live --nats` publishes) and serves them like `--feed` does, until Ctrl-C'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "trends" -d 'Each agent\'s trend across calls, for coaching: reads the folders `replay DIR --out OUT` wrote and writes trends.html and trends.csv (per agent and week: calls, talk, alerts per hour of talk by kind, talk-to-listen, customer agitation heard, escalations; the agent\'s own voice only with --agent-voice)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "config" -d 'Show or check the configuration (every threshold, with its meaning)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "completions" -d 'Print a shell completion script: bash, zsh, fish, elvish or powershell (e.g. `tonewatch completions bash > /etc/bash_completion.d/tonewatch`)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "man" -d 'Print the man page (roff): `tonewatch man | man -l -`; `tonewatch man replay` for a subcommand\'s (tonewatch-replay(1)), or `--out DIR` to write every page there (tonewatch.1, tonewatch-replay.1, ...)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "schema" -d 'Print the JSON Schema (draft 2020-12) of every JSON Lines record replay and live print: frame, alert, agitation, summary, call, shift (with `call_id` on the lines of a call in a stream of calls). Its `$id` carries the schema\'s version, raised when a record changes incompatibly'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and not __fish_seen_subcommand_from replay live call devices serve supervise trends config completions man schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and __fish_seen_subcommand_from call" -f -a "start" -d 'A call begins now (ending one that is open); prints its call_id'
complete -c tonewatch -n "__fish_tonewatch_using_subcommand help; and __fish_seen_subcommand_from call" -f -a "end" -d 'The open call ends now: its summary is printed'
