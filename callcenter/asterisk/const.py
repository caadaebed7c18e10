"""Names shared by the rendered Asterisk configuration, the sandbox and the server.

The dialplan context names and FastAGI routes below are an interface: the IVR, the dialer and
the agent desk refer to them, and sites that ``#include`` our files into their own dialplan see
them. Change them only together with docs/asterisk.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hcrm_core.models import queues as queue_models

# Dialplan contexts of the production configuration (extensions.conf).
CONTEXT_INBOUND: Final = "hospital-inbound"
CONTEXT_QUEUES: Final = "callcenter-queues"
CONTEXT_AGENTS: Final = "callcenter-agents"
CONTEXT_OUTBOUND: Final = "callcenter-outbound"
CONTEXT_OUTBOUND_DIAL: Final = "callcenter-outbound-dial"
CONTEXT_AGI_TEST: Final = "callcenter-agi-test"
# Tries each FastAGI address in turn (several server processes; rendered only then).
CONTEXT_AGI_FALLBACK: Final = "callcenter-agi-fallback"
# Callbacks that keep the caller's place: the queues' exit-on-key context (queues.conf
# "context"), where the placeholder call waits in the caller's place, and where it dials them.
CONTEXT_QUEUE_KEYS: Final = "callcenter-queue-keys"
CONTEXT_CALLBACK_WAIT: Final = "callcenter-callback-wait"
CONTEXT_CALLBACK: Final = "callcenter-callback"
# The key a waiting caller presses to be called back (a one-digit extension of
# CONTEXT_QUEUE_KEYS: Queue() leaves for it at once).
CALLBACK_KEY: Final = "1"
# Played to waiting callers every 45 s (queues.conf periodic-announce): the callback offer.
CALLBACK_OFFER_PROMPT: Final = "callcenter/queue-callback-offer"
# Call control from the desk: held calls wait here; transfers to an agent or a number.
CONTEXT_HOLD: Final = "callcenter-hold"
CONTEXT_TRANSFER: Final = "callcenter-transfer"
CONTEXT_CONSULT: Final = "callcenter-consult"
CONTEXT_CONSULT_NUMBER: Final = "callcenter-consult-number"
CONTEXT_CONFERENCE: Final = "callcenter-conference"

# Sandbox-only contexts (extensions_simulation.conf, rendered with --sandbox only).
CONTEXT_SIM_PATIENT: Final = "sim-patient"
CONTEXT_SIM_AGENTS: Final = "sim-agents"
CONTEXT_SIM_CALLEE: Final = "sim-callee"
CONTEXT_SIM_LISTENER: Final = "sim-listener"
# Supervisors' phones in the demo: answer at once and stay (Listen, Whisper, Barge).
CONTEXT_SIM_SUPERVISORS: Final = "sim-supervisors"

# FastAGI routes: the path part of agi://host:port/<route>.
AGI_ROUTE_IVR: Final = "ivr"
AGI_ROUTE_SURVEY: Final = "survey"
AGI_ROUTE_ECHO_DIGITS: Final = "echo-digits"
# Past a queue's maximum wait with the "message" overflow: leave a message or be called back.
AGI_ROUTE_QUEUE_OVERFLOW: Final = "queue-overflow"
# A waiting caller pressed CALLBACK_KEY: confirm the number, store the callback.
AGI_ROUTE_QUEUE_CALLBACK: Final = "queue-callback"
# The callcenter-queues extension that runs it (a name no queue may take: hcrm_core's
# RESERVED_NAMES); the IVR names it in CALLCENTER_QUEUE_OVERFLOW like an overflow queue.
QUEUE_OVERFLOW_MESSAGE: Final = "leave-message"

# The PJSIP endpoint name outbound calls leave through; a site defines it in pjsip_site.conf.
TRUNK_ENDPOINT: Final = "hospital-trunk"

# AMI classes of the server's user. Checked against `manager show command` on Asterisk 22:
# PlayDTMF, Setvar, Redirect, Hangup, BlindTransfer need "call"; Originate "originate";
# QueueAdd/QueueRemove/QueuePause "agent"; CoreShowChannels, Getvar and Status accept "reporting";
# UserEvent needs "user"; QueueStatus, QueueSummary and Ping need none. The MixMonitor *action*
# needs "system", so recordings are started by the dialplan instead (see extensions.conf).
#
# Read classes only decide which events a session receives; actions are checked against the
# write classes alone. call: channels, bridges, hangups, OriginateResponse; agent: queue and
# member events (AgentCalled, AgentConnect, QueueCallerJoin...); user: UserEvent checkpoints;
# system: FullyBooted and Shutdown, which Asterisk 22 sends only to read=system sessions
# (verified) and which the server needs to know when it may originate. "reporting" is left out
# of read: it adds RTCP reports for every call leg, a steady stream a slow reader pays for
# under `writetimeout`.
AMI_READ_CLASSES: Final = ("call", "agent", "user", "system")
AMI_WRITE_CLASSES: Final = ("call", "agent", "originate", "reporting", "user")
# Never writable: these actions run shell commands (system: also Originate of System()),
# CLI commands (command) or rewrite configuration files (config).
AMI_FORBIDDEN_WRITE_CLASSES: Final = frozenset({"system", "command", "config", "all"})
AMI_FORBIDDEN_READ_CLASSES: Final = frozenset({"command", "config", "all"})

# The sandbox-only AMI user that test drivers and simulated callers use. It may see AGI and DTMF
# events (tests press keys when the IVR waits: AGIExecStart is class "agi") but it still cannot
# run shell or CLI commands.
SIM_DRIVER_USERNAME: Final = "sim-driver"
SIM_DRIVER_READ_CLASSES: Final = ("call", "agent", "user", "system", "agi", "dtmf")
SIM_DRIVER_WRITE_CLASSES: Final = ("call", "agent", "originate", "reporting", "user")

# Milliseconds Asterisk waits on a blocked AMI socket before dropping the session. The default
# (100 ms) drops a reader that pauses for a garbage collection or a busy loop iteration.
AMI_WRITE_TIMEOUT_MS: Final = 1000

# The first line every AMI session receives, e.g. "Asterisk Call Manager/9.0.0".
AMI_BANNER_PREFIX: Final = "Asterisk Call Manager/"

SIP_BIND: Final = "127.0.0.1:5060"
SIP_TLS_BIND: Final = "127.0.0.1:5061"


# Asterisk 22's queue strategies (queues.conf.sample).
QUEUE_STRATEGIES: Final = frozenset(
    {"ringall", "leastrecent", "fewestcalls", "random"}
    | {"rrmemory", "rrordered", "linear", "wrandom"}
)


@dataclass(frozen=True)
class QueueSpec:
    """One call queue: its name (also its dialplan extension), what callers wait for, and its
    queues.conf settings (the defaults are the [callcenter-queue] template's)."""

    name: str
    description: str
    strategy: str = "rrmemory"
    timeout: int = 15
    wrapuptime: int = 10
    announce_position: bool = True
    announce_holdtime: bool = False
    announce_frequency: int = 60


# The queues of a site that keeps none in its database (queues as data: hcrm_core's queues
# table, seeded with these two). "general" cannot be a queue name: [general] is queues.conf's
# own settings section.
QUEUES: Final = (
    QueueSpec("appointments", "Booking, moving and cancelling appointments"),
    QueueSpec("enquiries", "Everything else: results, billing, directions"),
)
# Where inbound callers go when the server's IVR cannot be reached (kept with the queues: the
# console refuses to deactivate it).
FALLBACK_QUEUE: Final = queue_models.FALLBACK_QUEUE
