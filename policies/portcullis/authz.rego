# The shipped zero-trust policy for agent, tool and service traffic.
#
# Entrypoint: data.portcullis.authz.decision, a decision document as in
# docs/policy-authoring.md. Default deny; every deny carries its reasons.
# Per-segment configuration lives in data.portcullis.segments.<segment>
# (see policies/portcullis/data.json for the shape and the demo values).
package portcullis.authz

import rego.v1

cfg := data.portcullis.segments[input.segment]

default decision := {
	"allow": false,
	"status": 403,
	"error": "access_denied",
	"reasons": ["default deny: no rule allowed the request"],
}

decision := {
	"allow": true,
	"reasons": allow_reasons,
	"downscope": downscope,
	"headers": {"x-portcullis-caller-type": input.caller.type},
	"cache_ttl_s": cache_ttl_s,
} if {
	count(deny) == 0
	route
}

decision := object.union(
	{"allow": false, "status": 403, "error": "insufficient_scope", "reasons": sort(deny)},
	{"scope": concat(" ", sort(missing_scopes))},
) if {
	count(deny) > 0
	count(missing_scopes) > 0
}

decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": sort(deny)} if {
	count(deny) > 0
	count(missing_scopes) == 0
}

# ---- what the caller asks for ----

# The first route of the segment that matches method and path (routes are ordered).
matching_routes := [r |
	some r in cfg.routes
	route_matches(r)
]

route := matching_routes[0]

route_matches(r) if {
	method_matches(r)
	glob.match(r.path, ["/"], input.request.path)
}

method_matches(r) if not r.methods

method_matches(r) if input.request.method in r.methods

token_scopes := {s | some s in input.token.scopes}

# Scopes the route requires, plus those of the MCP/A2A tool or method called.
required_scopes contains s if some s in route.scopes

required_scopes contains s if {
	some s in cfg.tools[input.rpc.tool].scopes
}

missing_scopes contains s if {
	some s in required_scopes
	not s in token_scopes
}

# ---- deny reasons ----

deny contains "segment is not configured" if not cfg

deny contains msg if {
	cfg
	not route
	msg := sprintf("no route allows %s %s", [input.request.method, input.request.path])
}

deny contains msg if {
	cfg.caller_types
	not input.caller.type in cfg.caller_types
	msg := sprintf("caller type %q is not allowed on segment %q", [input.caller.type, input.segment])
}

deny contains msg if {
	route.caller_types
	not input.caller.type in route.caller_types
	msg := sprintf("caller type %q is not allowed on this route", [input.caller.type])
}

deny contains msg if {
	some s in missing_scopes
	msg := sprintf("missing scope %q", [s])
}

deny contains msg if {
	count(route.roles) > 0
	roles := {r | some r in input.token.claims.roles}
	count(roles & {r | some r in route.roles}) == 0
	msg := sprintf("requires one of the roles %v", [sort(route.roles)])
}

deny contains msg if {
	input.rpc.tool
	cfg.tools
	not cfg.tools[input.rpc.tool]
	msg := sprintf("tool %q is not allowed on segment %q", [input.rpc.tool, input.segment])
}

deny contains msg if {
	some tool_cfg in [cfg.tools[input.rpc.tool]]
	tool_cfg.caller_types
	not input.caller.type in tool_cfg.caller_types
	msg := sprintf("caller type %q may not call tool %q", [input.caller.type, input.rpc.tool])
}

# AI agents on sensitive segments need a fresh, affirming attestation result.
deny contains "AI agent on a sensitive segment needs an affirming attestation" if {
	agent_on_sensitive_segment
	not input.attestation.status == "affirming"
}

deny contains msg if {
	agent_on_sensitive_segment
	input.attestation.status == "affirming"
	input.attestation.age_seconds > attestation_max_age_s
	msg := sprintf("attestation is %v s old, the limit is %v s", [input.attestation.age_seconds, attestation_max_age_s])
}

# An affirming result of unknown age is not known to be fresh (fail closed).
deny contains "affirming attestation has no age_seconds" if {
	agent_on_sensitive_segment
	input.attestation.status == "affirming"
	not is_number(input.attestation.age_seconds)
}

# A contraindicated workload is denied everywhere.
deny contains "attestation result is contraindicated" if {
	input.attestation.status == "contraindicated"
}

deny contains msg if {
	input.delegation.depth > max_delegation_depth
	msg := sprintf("delegation chain depth %v exceeds %v", [input.delegation.depth, max_delegation_depth])
}

deny contains msg if {
	some link in input.delegation.chain
	not actor_allowed(link.sub)
	msg := sprintf("actor %q in the delegation chain is not allowed", [link.sub])
}

# A link without a string sub cannot be matched against allowed_actors (fail closed).
deny contains "delegation chain has an actor without a string sub" if {
	cfg.allowed_actors
	some link in input.delegation.chain
	not is_string(link.sub)
}

# ---- helpers ----

# A route may opt out with "attestation_required": false (an index or health
# check that serves nothing sensitive); a request matching no route cannot.
agent_on_sensitive_segment if {
	input.caller.type == "ai-agent"
	cfg.sensitive == true
	not route.attestation_required == false
}

default attestation_max_age_s := 300

attestation_max_age_s := cfg.attestation_max_age_s

default max_delegation_depth := 1

max_delegation_depth := cfg.max_delegation_depth

actor_allowed(sub) if {
	some pattern in cfg.allowed_actors
	glob.match(pattern, ["/"], sub)
}

# Without a configured actor list, only the chain depth limits delegation.
actor_allowed(_) if not cfg.allowed_actors

allow_reasons contains sprintf("route %q allows %s for caller type %q", [route.path, input.request.method, input.caller.type]) if route

allow_reasons contains "affirming attestation" if {
	agent_on_sensitive_segment
	input.attestation.status == "affirming"
}

# The Txn-Token scope: what the route needs, narrowed to what the token has.
downscope := sort([s | some s in required_scopes; s in token_scopes])

default cache_ttl_s := 60

# A decision that rests on an attestation must not outlive it.
cache_ttl_s := min([60, attestation_max_age_s - input.attestation.age_seconds]) if {
	agent_on_sensitive_segment
	input.attestation.status == "affirming"
}
