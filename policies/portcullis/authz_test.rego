# Tests of the shipped policy (authz.rego) against its demo data (data.json,
# loaded as data.portcullis). Run: portcullis test policies/ -v
#
# Every rule is covered allowed and denied. Inputs are built from a few base
# documents with object.union (a deep merge); tests that need other segment
# configuration replace data.portcullis.segments with `with`.
package portcullis.authz_test

import rego.v1

import data.portcullis.authz

# ---------------------------------------------------------------------------
# Base inputs
# ---------------------------------------------------------------------------

# An AI agent calling the MCP tool get_balance on the sensitive payments
# segment with a fresh, affirming attestation: allowed.
agent := {
	"segment": "payments",
	"request": {
		"method": "POST", "path": "/mcp", "host": "payments.demo.portcullis",
		"headers": {"content-type": "application/json"}, "query": {},
		"remote_addr": "10.0.0.7", "time_ns": 0,
	},
	"peer": {
		"spiffe_id": "spiffe://demo.portcullis/agent/planner",
		"trust_domain": "demo.portcullis",
	},
	"token": {
		"type": "jwt",
		"claims": {"sub": "user:alice"},
		"scopes": ["payments:read"],
		"client_id": "planner",
		"sender_constraint": "dpop",
	},
	"authn": {"methods": ["mtls", "bearer"], "subject": "user:alice"},
	"caller": {"type": "ai-agent", "reason": "spiffe path /agent/*"},
	"delegation": {
		"chain": [{"sub": "user:alice"}, {"sub": "spiffe://demo.portcullis/agent/planner"}],
		"depth": 1,
	},
	"attestation": {"status": "affirming", "verifier": "demo-verifier", "age_seconds": 12},
	"rpc": {"protocol": "mcp", "method": "tools/call", "tool": "get_balance", "params": {}},
}

# A backend service reading a payment over plain HTTP on the payments segment.
service := {
	"segment": "payments",
	"request": {"method": "GET", "path": "/payments/p-1", "headers": {}, "query": {}},
	"peer": {"spiffe_id": "spiffe://demo.portcullis/service/ledger", "trust_domain": "demo.portcullis"},
	"token": {"type": "jwt", "claims": {"sub": "spiffe://demo.portcullis/service/ledger"}, "scopes": ["payments:read"]},
	"authn": {"methods": ["mtls", "bearer"]},
	"caller": {"type": "service"},
	"attestation": {"status": "none"},
}

# A person with a browser on the public segment: no client certificate, no token.
browser := {
	"segment": "public",
	"request": {"method": "GET", "path": "/index.html", "headers": {"accept": "text/html"}, "query": {}},
	"authn": {"methods": []},
	"caller": {"type": "human-browser", "reason": "no client certificate"},
	"attestation": {"status": "none"},
}

# Input helpers: deep-merge a patch into a base input.
with_patch(base, patch) := object.union(base, patch)

# An agent input with a different attestation result.
agent_attested(att) := object.union(object.remove(agent, ["attestation"]), {"attestation": att})

# An agent input with a different delegation chain and depth.
agent_chain(chain, depth) := object.union(object.remove(agent, ["delegation"]), {"delegation": {"chain": chain, "depth": depth}})

# A test segment for the rules the demo data does not exercise (route caller
# types, routes without methods, single-star globs, tools without caller
# types, segment defaults). Not sensitive, no allowed_actors, no
# attestation_max_age_s, no max_delegation_depth.
lab_segments := {"lab": {
	"routes": [
		{"path": "/admin/**", "methods": ["POST"], "scopes": ["lab:admin"], "caller_types": ["service"]},
		{"path": "/items/*", "methods": ["GET"], "scopes": ["lab:read"]},
		{"path": "/items/**", "methods": ["GET"], "scopes": ["lab:deep"]},
		{"path": "/any-method", "scopes": []},
		{"path": "/team", "methods": ["GET"], "scopes": [], "roles": []},
		{"path": "/mcp", "methods": ["POST"], "scopes": []},
	],
	"tools": {"search": {"scopes": ["lab:search"]}},
}}

lab(patch) := object.union(
	{
		"segment": "lab",
		"request": {"method": "GET", "path": "/items/a"},
		"token": {"scopes": ["lab:read"]},
		"caller": {"type": "service"},
	},
	patch,
)

# A sensitive segment that sets nothing but `sensitive` and one route: the
# default attestation age (300 s) and delegation depth (1) apply.
vault_segments := {"vault": {"sensitive": true, "routes": [{"path": "/**", "scopes": []}]}}

vault(patch) := object.union(
	{
		"segment": "vault",
		"request": {"method": "GET", "path": "/secret"},
		"caller": {"type": "ai-agent"},
		"attestation": {"status": "affirming", "age_seconds": 0},
	},
	patch,
)

# ---------------------------------------------------------------------------
# Decision document shape
# ---------------------------------------------------------------------------

is_allowed(d) if {
	d.allow == true
	not d.status
	not d.error
	not d.scope
}

is_denied(d, error) if {
	d.allow == false
	d.status == 403
	d.error == error
	not d.downscope
	not d.credential
	not d.headers
	not d.cache_ttl_s
}

# The reasons as a set: allow reasons are a set in the policy (a JSON array
# once serialised), deny reasons a sorted array.
reason_set(d) := {r | some r in d.reasons}

# ---------------------------------------------------------------------------
# Default deny and unknown segment
# ---------------------------------------------------------------------------

test_agent_base_input_allowed if {
	d := authz.decision with input as agent
	is_allowed(d)
	d.downscope == ["payments:read"]
	d.headers == {"x-portcullis-caller-type": "ai-agent"}
	d.cache_ttl_s == 60
	reason_set(d) == {"affirming attestation", `route "/mcp" allows POST for caller type "ai-agent"`}
}

test_unknown_segment_denied if {
	d := authz.decision with input as with_patch(agent, {"segment": "billing"})
	is_denied(d, "access_denied")
	d.reasons == ["segment is not configured"]
}

test_missing_segment_denied if {
	d := authz.decision with input as object.remove(agent, ["segment"])
	is_denied(d, "access_denied")
	d.reasons == ["segment is not configured"]
}

test_no_input_denied if {
	d := authz.decision
	is_denied(d, "access_denied")
	d.reasons == ["segment is not configured"]
}

test_no_segments_in_data_denied if {
	d := authz.decision with input as service with data.portcullis.segments as {}
	is_denied(d, "access_denied")
	d.reasons == ["segment is not configured"]
}

test_configured_segment_allowed if {
	is_allowed(authz.decision) with input as service
}

# No deny reason fires and no route matches (the request has no method or
# path): the default decision applies.
test_default_decision_without_request if {
	d := authz.decision with input as object.remove(service, ["request"])
	d == {
		"allow": false,
		"status": 403,
		"error": "access_denied",
		"reasons": ["default deny: no rule allowed the request"],
	}
}

# No caller type: the allow document (whose headers need it) is undefined,
# so the default deny applies.
test_default_decision_without_caller_type if {
	d := authz.decision with input as object.remove(service, ["caller"])
	is_denied(d, "access_denied")
	d.reasons == ["default deny: no rule allowed the request"]
}

# ---------------------------------------------------------------------------
# Route matching: method, glob path, first match
# ---------------------------------------------------------------------------

test_route_method_mismatch_denied if {
	d := authz.decision with input as with_patch(service, {"request": {"method": "DELETE"}})
	is_denied(d, "access_denied")
	d.reasons == ["no route allows DELETE /payments/p-1"]
}

test_route_path_mismatch_denied if {
	d := authz.decision with input as with_patch(service, {"request": {"path": "/admin/users"}})
	is_denied(d, "access_denied")
	d.reasons == ["no route allows GET /admin/users"]
}

test_route_exact_path_allowed if {
	d := authz.decision with input as with_patch(service, {"request": {"path": "/health"}})
	is_allowed(d)
	d.downscope == []
	`route "/health" allows GET for caller type "service"` in d.reasons
}

test_route_exact_path_is_not_a_prefix if {
	d := authz.decision with input as with_patch(service, {"request": {"path": "/health/deep"}})
	is_denied(d, "access_denied")
	d.reasons == ["no route allows GET /health/deep"]
}

test_route_root_path_does_not_match_others if {
	is_allowed(authz.decision) with input as with_patch(service, {"request": {"path": "/"}})
	d := authz.decision with input as with_patch(service, {"request": {"path": "/x"}})
	d.reasons == ["no route allows GET /x"]
}

test_route_double_star_glob_allowed if {
	d := authz.decision with input as with_patch(service, {"request": {"path": "/payments/2024/p-1/receipt"}})
	is_allowed(d)
	`route "/payments/**" allows GET for caller type "service"` in d.reasons
}

test_route_double_star_glob_needs_the_prefix if {
	d := authz.decision with input as with_patch(service, {"request": {"path": "/paymentsx/p-1"}})
	d.reasons == ["no route allows GET /paymentsx/p-1"]
}

test_route_single_star_glob_one_segment_allowed if {
	d := authz.decision with input as lab({}) with data.portcullis.segments as lab_segments
	is_allowed(d)
	reason_set(d) == {`route "/items/*" allows GET for caller type "service"`}
	d.downscope == ["lab:read"]
}

# `/items/*` does not cross a `/`; the next route `/items/**` matches and wants lab:deep.
test_route_single_star_glob_does_not_cross_slash if {
	d := authz.decision with input as lab({"request": {"path": "/items/a/b"}}) with data.portcullis.segments as lab_segments
	is_denied(d, "insufficient_scope")
	d.scope == "lab:deep"
}

# Two routes match GET /items/a: the first (lab:read) decides, even though
# the token holds the scope of the second one only.
test_route_first_match_wins if {
	d := authz.decision with input as lab({"token": {"scopes": ["lab:deep"]}}) with data.portcullis.segments as lab_segments
	is_denied(d, "insufficient_scope")
	d.scope == "lab:read"
	d.reasons == [`missing scope "lab:read"`]
}

# Same path, different methods (the demo data): GET and POST /payments/** are separate routes.
test_route_first_match_by_method if {
	get := authz.decision with input as with_patch(service, {"token": {"scopes": ["payments:write"]}})
	get.scope == "payments:read"
	post := authz.decision with input as with_patch(service, {"request": {"method": "POST"}, "token": {"scopes": ["payments:read"]}})
	post.scope == "payments:write"
}

test_route_without_methods_matches_any_method if {
	every m in ["GET", "POST", "DELETE", "PATCH"] {
		d := authz.decision with input as lab({"request": {"method": m, "path": "/any-method"}}) with data.portcullis.segments as lab_segments
		is_allowed(d)
	}
}

test_route_method_list_is_exact if {
	d := authz.decision with input as with_patch(service, {"request": {"method": "get"}})
	d.reasons == ["no route allows get /payments/p-1"]
}

# ---------------------------------------------------------------------------
# Scopes
# ---------------------------------------------------------------------------

test_scope_present_allowed if {
	is_allowed(authz.decision) with input as service
}

test_scope_missing_insufficient_scope if {
	d := authz.decision with input as with_patch(service, {"token": {"scopes": ["payments:write"]}})
	is_denied(d, "insufficient_scope")
	d.scope == "payments:read"
	d.reasons == [`missing scope "payments:read"`]
}

test_scope_no_token_insufficient_scope if {
	d := authz.decision with input as object.remove(service, ["token"])
	is_denied(d, "insufficient_scope")
	d.scope == "payments:read"
}

# Several missing scopes: sorted and space-joined in `scope`, one reason each.
test_scope_several_missing_space_joined if {
	inp := with_patch(agent, {"rpc": {"tool": "send_payment"}, "token": {"scopes": []}})
	d := authz.decision with input as inp
	is_denied(d, "insufficient_scope")
	d.scope == "payments:read payments:write"
	d.reasons == [`missing scope "payments:read"`, `missing scope "payments:write"`]
}

test_scope_none_required_allowed_without_token if {
	d := authz.decision with input as object.remove(with_patch(service, {"request": {"path": "/"}}), ["token"])
	is_allowed(d)
	d.downscope == []
}

# A missing scope decides the error even when other reasons also deny.
test_scope_missing_with_other_denies_is_insufficient_scope if {
	inp := with_patch(service, {"token": {"scopes": []}, "attestation": {"status": "contraindicated"}})
	d := authz.decision with input as inp
	is_denied(d, "insufficient_scope")
	d.scope == "payments:read"
	d.reasons == ["attestation result is contraindicated", `missing scope "payments:read"`]
}

test_no_scope_key_when_access_denied if {
	d := authz.decision with input as with_patch(service, {"attestation": {"status": "contraindicated"}})
	is_denied(d, "access_denied")
	not d.scope
}

# ---------------------------------------------------------------------------
# Tools: scopes, caller types, unknown tools
# ---------------------------------------------------------------------------

test_tool_scope_present_allowed if {
	d := authz.decision with input as agent
	is_allowed(d)
	d.downscope == ["payments:read"]
}

test_tool_scope_missing_insufficient_scope if {
	d := authz.decision with input as with_patch(agent, {"rpc": {"tool": "send_payment"}})
	is_denied(d, "insufficient_scope")
	d.scope == "payments:write"
	d.reasons == [`missing scope "payments:write"`]
}

test_tool_scopes_add_to_route_scopes if {
	inp := with_patch(agent, {"rpc": {"tool": "send_payment"}, "token": {"scopes": ["payments:read", "payments:write"]}})
	d := authz.decision with input as inp
	is_allowed(d)
	d.downscope == ["payments:read", "payments:write"]
}

test_tool_caller_type_allowed_agent if {
	inp := with_patch(agent, {"rpc": {"tool": "send_payment"}, "token": {"scopes": ["payments:read", "payments:write"]}})
	is_allowed(authz.decision) with input as inp
}

test_tool_caller_type_allowed_human_api if {
	inp := with_patch(agent, {
		"caller": {"type": "human-api"},
		"rpc": {"tool": "send_payment"},
		"token": {"scopes": ["payments:read", "payments:write"]},
		"attestation": {"status": "none"},
	})
	d := authz.decision with input as inp
	is_allowed(d)
	d.headers == {"x-portcullis-caller-type": "human-api"}
}

test_tool_caller_type_denied_human_browser if {
	inp := with_patch(agent, {
		"caller": {"type": "human-browser"},
		"rpc": {"tool": "send_payment"},
		"token": {"scopes": ["payments:read", "payments:write"]},
	})
	d := authz.decision with input as inp
	is_denied(d, "access_denied")
	d.reasons == [`caller type "human-browser" may not call tool "send_payment"`]
}

test_tool_caller_type_denied_service if {
	inp := with_patch(agent, {
		"caller": {"type": "service"},
		"rpc": {"tool": "send_payment"},
		"token": {"scopes": ["payments:read", "payments:write"]},
	})
	d := authz.decision with input as inp
	is_denied(d, "access_denied")
	d.reasons == [`caller type "service" may not call tool "send_payment"`]
}

# get_balance has no caller_types: any caller type the segment admits may call it.
test_tool_without_caller_types_any_caller if {
	every t in ["ai-agent", "human-api", "human-browser", "service"] {
		is_allowed(authz.decision) with input as with_patch(agent, {"caller": {"type": t}})
	}
}

test_unknown_tool_denied if {
	d := authz.decision with input as with_patch(agent, {"rpc": {"tool": "drop_tables"}})
	is_denied(d, "access_denied")
	d.reasons == [`tool "drop_tables" is not allowed on segment "payments"`]
}

test_no_tool_called_allowed if {
	inp := object.union(object.remove(agent, ["rpc"]), {"rpc": {"protocol": "mcp", "method": "tools/list"}})
	d := authz.decision with input as inp
	is_allowed(d)
	d.downscope == ["payments:read"]
}

# A segment without a tools table does not restrict tools.
test_segment_without_tools_allows_any_tool if {
	d := authz.decision with input as lab({"request": {"method": "POST", "path": "/mcp"}, "rpc": {"tool": "anything"}})
		with data.portcullis.segments as {"lab": object.remove(lab_segments.lab, ["tools"])}
	is_allowed(d)
}

test_tool_scope_on_test_segment if {
	d := authz.decision with input as lab({"request": {"method": "POST", "path": "/mcp"}, "rpc": {"tool": "search"}})
		with data.portcullis.segments as lab_segments
	is_denied(d, "insufficient_scope")
	d.scope == "lab:search"
	ok := authz.decision with input as lab({"request": {"method": "POST", "path": "/mcp"}, "rpc": {"tool": "search"}, "token": {"scopes": ["lab:search"]}})
		with data.portcullis.segments as lab_segments
	is_allowed(ok)
	ok.downscope == ["lab:search"]
}

# ---------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------

writer := with_patch(service, {
	"request": {"method": "POST", "path": "/payments/transfer"},
	"token": {"scopes": ["payments:write"], "claims": {"roles": ["auditor", "payments-writer"]}},
})

test_role_present_allowed if {
	d := authz.decision with input as writer
	is_allowed(d)
	d.downscope == ["payments:write"]
	`route "/payments/**" allows POST for caller type "service"` in d.reasons
}

test_role_missing_denied if {
	d := authz.decision with input as with_patch(writer, {"token": {"claims": {"roles": ["auditor"]}}})
	is_denied(d, "access_denied")
	d.reasons == [`requires one of the roles ["payments-writer"]`]
}

test_role_claim_absent_denied if {
	inp := object.union(object.remove(writer, ["token"]), {"token": {"scopes": ["payments:write"], "claims": {}}})
	d := authz.decision with input as inp
	is_denied(d, "access_denied")
	d.reasons == [`requires one of the roles ["payments-writer"]`]
}

test_role_and_scope_missing_both_reported if {
	inp := object.union(object.remove(writer, ["token"]), {"token": {"scopes": []}})
	d := authz.decision with input as inp
	is_denied(d, "insufficient_scope")
	d.scope == "payments:write"
	d.reasons == [`missing scope "payments:write"`, `requires one of the roles ["payments-writer"]`]
}

test_route_with_empty_roles_needs_no_role if {
	d := authz.decision with input as lab({"request": {"path": "/team"}}) with data.portcullis.segments as lab_segments
	is_allowed(d)
}

# ---------------------------------------------------------------------------
# Caller types: segment and route
# ---------------------------------------------------------------------------

test_segment_caller_type_allowed if {
	every t in ["ai-agent", "human-api", "human-browser", "service"] {
		inp := with_patch(service, {"caller": {"type": t}, "attestation": {"status": "affirming", "age_seconds": 1}})
		is_allowed(authz.decision) with input as inp
	}
}

test_segment_caller_type_denied if {
	d := authz.decision with input as with_patch(service, {"caller": {"type": "iot-device"}})
	is_denied(d, "access_denied")
	d.reasons == [`caller type "iot-device" is not allowed on segment "payments"`]
}

test_segment_without_caller_types_allows_any if {
	d := authz.decision with input as with_patch(browser, {"caller": {"type": "iot-device"}})
	is_allowed(d)
	d.headers == {"x-portcullis-caller-type": "iot-device"}
}

test_route_caller_type_allowed if {
	inp := lab({"request": {"method": "POST", "path": "/admin/reindex"}, "token": {"scopes": ["lab:admin"]}})
	d := authz.decision with input as inp with data.portcullis.segments as lab_segments
	is_allowed(d)
	reason_set(d) == {`route "/admin/**" allows POST for caller type "service"`}
}

test_route_caller_type_denied if {
	inp := lab({
		"request": {"method": "POST", "path": "/admin/reindex"},
		"token": {"scopes": ["lab:admin"]},
		"caller": {"type": "human-api"},
	})
	d := authz.decision with input as inp with data.portcullis.segments as lab_segments
	is_denied(d, "access_denied")
	d.reasons == [`caller type "human-api" is not allowed on this route`]
}

test_segment_and_route_caller_types_both_checked if {
	segs := {"lab": object.union(lab_segments.lab, {"caller_types": ["service", "human-api"]})}
	inp := lab({
		"request": {"method": "POST", "path": "/admin/reindex"},
		"token": {"scopes": ["lab:admin"]},
		"caller": {"type": "ai-agent"},
	})
	d := authz.decision with input as inp with data.portcullis.segments as segs
	is_denied(d, "access_denied")
	d.reasons == [
		`caller type "ai-agent" is not allowed on segment "lab"`,
		`caller type "ai-agent" is not allowed on this route`,
	]
}

# ---------------------------------------------------------------------------
# Attestation of AI agents on sensitive segments
# ---------------------------------------------------------------------------

needs_affirming := "AI agent on a sensitive segment needs an affirming attestation"

test_agent_sensitive_no_attestation_denied if {
	d := authz.decision with input as object.remove(agent, ["attestation"])
	is_denied(d, "access_denied")
	d.reasons == [needs_affirming]
}

test_agent_sensitive_attestation_none_denied if {
	d := authz.decision with input as agent_attested({"status": "none"})
	is_denied(d, "access_denied")
	d.reasons == [needs_affirming]
}

test_agent_sensitive_attestation_warning_denied if {
	d := authz.decision with input as agent_attested({"status": "warning", "age_seconds": 5})
	is_denied(d, "access_denied")
	d.reasons == [needs_affirming]
}

test_agent_sensitive_attestation_stale_denied if {
	d := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 301})
	is_denied(d, "access_denied")
	d.reasons == ["attestation is 301 s old, the limit is 300 s"]
}

test_agent_sensitive_attestation_without_age_denied if {
	d := authz.decision with input as agent_attested({"status": "affirming"})
	is_denied(d, "access_denied")
	d.reasons == ["affirming attestation has no age_seconds"]
}

test_agent_sensitive_attestation_age_not_a_number_denied if {
	d := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": "12"})
	is_denied(d, "access_denied")
	"affirming attestation has no age_seconds" in d.reasons
}

test_agent_sensitive_attestation_fresh_allowed if {
	d := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 12})
	is_allowed(d)
	"affirming attestation" in d.reasons
}

test_agent_sensitive_attestation_at_the_limit_allowed if {
	d := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 300})
	is_allowed(d)
	d.cache_ttl_s == 0
}

test_agent_sensitive_attestation_configured_age if {
	segs := {"payments": object.union(data.portcullis.segments.payments, {"attestation_max_age_s": 30})}
	ok := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 30}) with data.portcullis.segments as segs
	is_allowed(ok)
	stale := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 31}) with data.portcullis.segments as segs
	is_denied(stale, "access_denied")
	stale.reasons == ["attestation is 31 s old, the limit is 30 s"]
}

test_agent_sensitive_attestation_default_age_300 if {
	ok := authz.decision with input as vault({"attestation": {"age_seconds": 300}}) with data.portcullis.segments as vault_segments
	is_allowed(ok)
	stale := authz.decision with input as vault({"attestation": {"age_seconds": 301}}) with data.portcullis.segments as vault_segments
	stale.reasons == ["attestation is 301 s old, the limit is 300 s"]
}

test_agent_non_sensitive_segment_needs_no_attestation if {
	inp := {
		"segment": "public",
		"request": {"method": "GET", "path": "/docs"},
		"caller": {"type": "ai-agent"},
		"attestation": {"status": "none"},
	}
	d := authz.decision with input as inp
	is_allowed(d)
	not "affirming attestation" in d.reasons
	d.cache_ttl_s == 60
}

test_agent_non_sensitive_segment_warning_allowed if {
	inp := with_patch(browser, {"caller": {"type": "ai-agent"}, "attestation": {"status": "warning"}})
	is_allowed(authz.decision) with input as inp
}

test_agent_non_sensitive_segment_stale_affirming_allowed if {
	inp := with_patch(browser, {"caller": {"type": "ai-agent"}, "attestation": {"status": "affirming", "age_seconds": 100000}})
	d := authz.decision with input as inp
	is_allowed(d)
	d.cache_ttl_s == 60
}

test_non_agent_sensitive_segment_needs_no_attestation if {
	every t in ["human-api", "human-browser", "service"] {
		d := authz.decision with input as object.remove(with_patch(agent, {"caller": {"type": t}}), ["attestation"])
		is_allowed(d)
		not "affirming attestation" in d.reasons
	}
}

test_sensitive_false_is_not_sensitive if {
	segs := {"vault": object.union(vault_segments.vault, {"sensitive": false})}
	d := authz.decision with input as vault({"attestation": {"status": "none"}}) with data.portcullis.segments as segs
	is_allowed(d)
}

# Routes with "attestation_required": false (the demo's GET / and /health).
agent_get(path) := object.union(object.remove(agent, ["attestation", "rpc"]), {
	"request": {"method": "GET", "path": path},
	"attestation": {"status": "none", "reason": "no attestation result or evidence presented"},
})

test_agent_sensitive_route_opted_out_needs_no_attestation if {
	every path in ["/", "/health"] {
		d := authz.decision with input as agent_get(path)
		is_allowed(d)
		not "affirming attestation" in d.reasons
		d.cache_ttl_s == 60
	}
}

test_agent_sensitive_route_not_opted_out_needs_attestation if {
	d := authz.decision with input as agent_get("/payments/p-1")
	is_denied(d, "access_denied")
	d.reasons == [needs_affirming]
}

test_agent_sensitive_attestation_required_true_needs_attestation if {
	segs := {"vault": {"sensitive": true, "routes": [{"path": "/**", "scopes": [], "attestation_required": true}]}}
	d := authz.decision with input as vault({"attestation": {"status": "none"}}) with data.portcullis.segments as segs
	d.reasons == [needs_affirming]
}

# Only a boolean false opts out: a string "false" (a typo in data) keeps the requirement.
test_agent_sensitive_attestation_required_string_false_needs_attestation if {
	segs := {"vault": {"sensitive": true, "routes": [{"path": "/**", "scopes": [], "attestation_required": "false"}]}}
	d := authz.decision with input as vault({"attestation": {"status": "none"}}) with data.portcullis.segments as segs
	d.reasons == [needs_affirming]
}

# No matching route cannot opt out: the attestation deny is reported with the route deny.
test_agent_sensitive_no_route_still_needs_attestation if {
	d := authz.decision with input as agent_get("/nowhere")
	reason_set(d) == {needs_affirming, "no route allows GET /nowhere"}
}

# ---------------------------------------------------------------------------
# Contraindicated attestation: denied everywhere
# ---------------------------------------------------------------------------

contraindicated := "attestation result is contraindicated"

test_contraindicated_agent_sensitive_denied if {
	d := authz.decision with input as agent_attested({"status": "contraindicated", "age_seconds": 1})
	is_denied(d, "access_denied")
	d.reasons == [needs_affirming, contraindicated]
}

test_contraindicated_service_sensitive_denied if {
	d := authz.decision with input as with_patch(service, {"attestation": {"status": "contraindicated"}})
	is_denied(d, "access_denied")
	d.reasons == [contraindicated]
}

test_contraindicated_public_segment_denied if {
	d := authz.decision with input as with_patch(browser, {"attestation": {"status": "contraindicated"}})
	is_denied(d, "access_denied")
	d.reasons == [contraindicated]
}

test_contraindicated_agent_route_opted_out_denied if {
	d := authz.decision with input as object.union(agent_get("/"), {"attestation": {"status": "contraindicated", "age_seconds": 1}})
	is_denied(d, "access_denied")
	d.reasons == [contraindicated]
}

test_contraindicated_agent_public_segment_denied if {
	inp := with_patch(browser, {"caller": {"type": "ai-agent"}, "attestation": {"status": "contraindicated"}})
	d := authz.decision with input as inp
	is_denied(d, "access_denied")
	d.reasons == [contraindicated]
}

# ---------------------------------------------------------------------------
# Delegation: depth limit and allowed actors
# ---------------------------------------------------------------------------

alice := {"sub": "user:alice"}

planner := {"sub": "spiffe://demo.portcullis/agent/planner"}

ledger := {"sub": "spiffe://demo.portcullis/service/ledger"}

test_delegation_depth_within_limit_allowed if {
	is_allowed(authz.decision) with input as agent_chain([alice, planner, ledger], 2)
}

test_delegation_depth_over_limit_denied if {
	d := authz.decision with input as agent_chain([alice, planner, ledger, planner], 3)
	is_denied(d, "access_denied")
	d.reasons == ["delegation chain depth 3 exceeds 2"]
}

test_delegation_default_depth_limit_1 if {
	ok := authz.decision with input as with_patch(browser, {"delegation": {"chain": [alice, planner], "depth": 1}})
	is_allowed(ok)
	deep := authz.decision with input as with_patch(browser, {"delegation": {"chain": [alice, planner, ledger], "depth": 2}})
	is_denied(deep, "access_denied")
	deep.reasons == ["delegation chain depth 2 exceeds 1"]
}

test_no_delegation_allowed if {
	is_allowed(authz.decision) with input as object.remove(agent, ["delegation"])
}

test_delegation_every_actor_allowed if {
	d := authz.decision with input as agent_chain([alice, planner, ledger], 2)
	is_allowed(d)
}

test_delegation_one_actor_not_allowed if {
	evil := {"sub": "spiffe://evil.example/agent/x"}
	d := authz.decision with input as agent_chain([alice, evil, planner], 2)
	is_denied(d, "access_denied")
	d.reasons == [`actor "spiffe://evil.example/agent/x" in the delegation chain is not allowed`]
}

test_delegation_actor_glob_does_not_cross_slash if {
	nested := {"sub": "spiffe://demo.portcullis/agent/planner/sub"}
	d := authz.decision with input as agent_chain([alice, nested], 1)
	d.reasons == [`actor "spiffe://demo.portcullis/agent/planner/sub" in the delegation chain is not allowed`]
}

test_delegation_every_disallowed_actor_reported if {
	d := authz.decision with input as agent_chain([{"sub": "group:ops"}, {"sub": "spiffe://other/agent/a"}], 1)
	d.reasons == [
		`actor "group:ops" in the delegation chain is not allowed`,
		`actor "spiffe://other/agent/a" in the delegation chain is not allowed`,
	]
}

test_delegation_actor_without_sub_denied if {
	d := authz.decision with input as agent_chain([alice, {"client_id": "planner"}], 1)
	is_denied(d, "access_denied")
	d.reasons == ["delegation chain has an actor without a string sub"]
}

test_delegation_no_allowed_actors_any_actor if {
	d := authz.decision with input as with_patch(browser, {"delegation": {"chain": [{"sub": "anyone:at-all"}, {"client_id": "x"}], "depth": 1}})
	is_allowed(d)
}

# ---------------------------------------------------------------------------
# cache_ttl_s: bounded by the attestation's remaining life
# ---------------------------------------------------------------------------

test_cache_ttl_fresh_attestation_capped_at_60 if {
	d := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 12})
	d.cache_ttl_s == 60
}

test_cache_ttl_bounded_by_attestation_age if {
	d := authz.decision with input as agent_attested({"status": "affirming", "age_seconds": 280})
	is_allowed(d)
	d.cache_ttl_s == 20
}

test_cache_ttl_bounded_by_configured_age if {
	ok := authz.decision with input as vault({"attestation": {"age_seconds": 250}}) with data.portcullis.segments as vault_segments
	ok.cache_ttl_s == 50
	segs := {"vault": object.union(vault_segments.vault, {"attestation_max_age_s": 30})}
	short := authz.decision with input as vault({"attestation": {"age_seconds": 10}}) with data.portcullis.segments as segs
	short.cache_ttl_s == 20
}

test_cache_ttl_default_without_attestation if {
	d := authz.decision with input as service
	d.cache_ttl_s == 60
}

# ---------------------------------------------------------------------------
# Downscope: required scopes the token has, nothing else
# ---------------------------------------------------------------------------

test_downscope_drops_unneeded_token_scopes if {
	inp := with_patch(service, {"token": {"scopes": ["payments:write", "payments:read", "crm:read", "admin"]}})
	d := authz.decision with input as inp
	is_allowed(d)
	d.downscope == ["payments:read"]
}

test_downscope_route_and_tool_sorted if {
	inp := with_patch(agent, {"rpc": {"tool": "send_payment"}, "token": {"scopes": ["payments:write", "openid", "payments:read"]}})
	d := authz.decision with input as inp
	d.downscope == ["payments:read", "payments:write"]
}

test_downscope_empty_when_nothing_required if {
	inp := with_patch(service, {"request": {"path": "/health"}, "token": {"scopes": ["payments:read", "payments:write"]}})
	d := authz.decision with input as inp
	is_allowed(d)
	d.downscope == []
}

test_downscope_duplicate_token_scopes if {
	inp := with_patch(service, {"token": {"scopes": ["payments:read", "payments:read"]}})
	d := authz.decision with input as inp
	d.downscope == ["payments:read"]
}

# ---------------------------------------------------------------------------
# Allow reasons and headers
# ---------------------------------------------------------------------------

test_allow_reasons_route_only if {
	d := authz.decision with input as service
	reason_set(d) == {`route "/payments/**" allows GET for caller type "service"`}
	d.headers == {"x-portcullis-caller-type": "service"}
}

test_allow_reasons_with_attestation if {
	d := authz.decision with input as agent
	"affirming attestation" in d.reasons
	`route "/mcp" allows POST for caller type "ai-agent"` in d.reasons
	count(d.reasons) == 2
}

test_deny_reasons_sorted_and_complete if {
	inp := with_patch(agent, {
		"caller": {"type": "ai-agent"},
		"rpc": {"tool": "drop_tables"},
		"attestation": {"status": "warning"},
		"delegation": {"chain": [{"sub": "mallory"}], "depth": 5},
	})
	d := authz.decision with input as inp
	is_denied(d, "access_denied")
	d.reasons == [
		needs_affirming,
		`actor "mallory" in the delegation chain is not allowed`,
		"delegation chain depth 5 exceeds 2",
		`tool "drop_tables" is not allowed on segment "payments"`,
	]
}

# ---------------------------------------------------------------------------
# Human via browser on the public segment
# ---------------------------------------------------------------------------

test_browser_public_get_allowed if {
	d := authz.decision with input as browser
	object.remove(d, ["reasons"]) == {
		"allow": true,
		"downscope": [],
		"headers": {"x-portcullis-caller-type": "human-browser"},
		"cache_ttl_s": 60,
	}
	reason_set(d) == {`route "/**" allows GET for caller type "human-browser"`}
}

test_browser_public_head_allowed if {
	is_allowed(authz.decision) with input as with_patch(browser, {"request": {"method": "HEAD", "path": "/"}})
}

test_browser_public_post_denied if {
	d := authz.decision with input as with_patch(browser, {"request": {"method": "POST", "path": "/login"}})
	is_denied(d, "access_denied")
	d.reasons == ["no route allows POST /login"]
}

test_browser_on_sensitive_segment_needs_scope if {
	d := authz.decision with input as with_patch(browser, {"segment": "payments", "request": {"path": "/payments/p-1"}})
	is_denied(d, "insufficient_scope")
	d.scope == "payments:read"
}

# ---------------------------------------------------------------------------
# The demo data itself
# ---------------------------------------------------------------------------

test_demo_data_segments if {
	object.keys(data.portcullis.segments) == {"payments", "public"}
	data.portcullis.segments.payments.sensitive == true
	data.portcullis.segments.public.sensitive == false
}
