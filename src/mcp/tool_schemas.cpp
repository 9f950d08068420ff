#include "mcp/tool_schemas.h"

namespace aha::mcp {

using nlohmann::json;

namespace {

json NullableString() {
  return {{"type", json::array({"string", "null"})}};
}
json StringArray() {
  return {{"type", "array"}, {"items", {{"type", "string"}}}};
}

json DrillRefSchema() {
  return {{"type", "object"},
          {"properties",
           {{"drillId", {{"type", "string"}}},
            {"region", {{"type", "string"}}},
            {"failureType", {{"type", "string"}}},
            {"startedAt", {{"type", "string"}}},
            {"expiresAt", {{"type", "string"}}},
            {"by", {{"type", "string"}}}}},
          {"required", {"drillId", "region", "startedAt", "expiresAt"}}};
}

// simulate_regional_outage: start a drill (dry_run: the plan only).
json SimulateTool(const json& region, const config::McpConfig& m) {
  return {
      {"name", "simulate_regional_outage"},
      {"title", "Simulate a regional outage (DR drill)"},
      {"description",
       "Start a disaster-recovery drill. failure_type health (default): the region's readiness "
       "gates report unhealthy until the drill expires; pod: its agent pods are deleted (the "
       "StatefulSet recreates them); network: a NetworkPolicy denies all ingress to them until "
       "the drill ends. The drill is recorded with its expiry (and a fault with how to revert it, "
       "before it is injected) in the shared failover state, so it ends on time even if this "
       "server stops. The failover controller then detects the failure through its normal probes "
       "and fails over. One drill per region at a time; refuses to take down the last region "
       "that could serve unless force is true. Use dry_run to see what would happen and exactly "
       "which objects would be touched."},
      {"inputSchema",
       {{"type", "object"},
        {"properties",
         {{"region", region},
          {"failure_type",
           {{"type", "string"},
            {"enum", {"health", "pod", "network"}},
            {"default", "health"},
            {"description",
             "health: the region's gates fail /health. pod: the region's agent pods are deleted "
             "through the Kubernetes API (their StatefulSet recreates them). network: a "
             "NetworkPolicy denies all ingress to them until the drill ends. pod and network "
             "need mcp.faults (and its RBAC); node is refused (not implemented)."}}},
          {"duration_seconds",
           {{"type", "integer"},
            {"minimum", m.min_duration_seconds},
            {"maximum", m.max_duration_seconds},
            {"default", m.default_duration_seconds}}},
          {"dry_run",
           {{"type", "boolean"},
            {"default", false},
            {"description", "Validate and show the plan; write nothing."}}},
          {"force",
           {{"type", "boolean"},
            {"default", false},
            {"description", "Allow taking down the last region that could serve."}}}}},
        {"required", {"region"}},
        {"additionalProperties", false}}},
      {"outputSchema",
       {{"type", "object"},
        {"properties",
         {{"dryRun", {{"type", "boolean"}}},
          {"drillId", NullableString()},
          {"region", {{"type", "string"}}},
          {"failureType", {{"type", "string"}}},
          {"durationSeconds", {{"type", "integer"}}},
          {"startedAt", {{"type", "string"}}},
          {"expiresAt", {{"type", "string"}}},
          {"servingBefore", StringArray()},
          {"failedBefore", StringArray()},
          {"survivors", StringArray()},
          {"forced", {{"type", "boolean"}}},
          {"touches",
           {{"type", json::array({"object", "null"})},
            {"description",
             "pod/network: the exact objects touched (namespace, selector, pods deleted, "
             "isolatedPods, networkPolicy, nodes); null for health."}}}}},
        {"required",
         {"dryRun", "drillId", "region", "failureType", "durationSeconds", "startedAt", "expiresAt",
          "servingBefore", "survivors"}}}},
      {"annotations",
       {{"title", "Simulate a regional outage"},
        {"readOnlyHint", false},
        {"destructiveHint", true},
        {"idempotentHint", false},
        {"openWorldHint", false}}}};
}

// end_regional_outage: end a region's drill now.
json EndTool(const json& region) {
  return {{"name", "end_regional_outage"},
          {"title", "End a drill early"},
          {"description", "End the active drill for a region now (removes its simulated outage)."},
          {"inputSchema",
           {{"type", "object"},
            {"properties", {{"region", region}}},
            {"required", {"region"}},
            {"additionalProperties", false}}},
          {"outputSchema",
           {{"type", "object"},
            {"properties",
             {{"drillId", {{"type", "string"}}},
              {"region", {{"type", "string"}}},
              {"startedAt", {{"type", "string"}}},
              {"endedAt", {{"type", "string"}}},
              {"ranSeconds", {{"type", "number"}}}}},
            {"required", {"drillId", "region", "startedAt", "endedAt", "ranSeconds"}}}},
          {"annotations",
           {{"readOnlyHint", false},
            {"destructiveHint", false},
            {"idempotentHint", true},
            {"openWorldHint", false}}}};
}

// get_failover_status: the state with the controller's live observations.
json StatusTool() {
  return {{"name", "get_failover_status"},
          {"title", "Failover status"},
          {"description",
           "Current failover state: every region's status, the serving and failed sets, the panic "
           "flag, recent transitions and active drills as written by the controller, with its live "
           "observations (last probe, streaks, a reason describing the current state, and the data "
           "position: writer/follower/fenced of which lineage at which epoch, seconds behind the "
           "lineage's head). observations.source says whether they are live (controller) or "
           "state.json's as of its last write (controller unreachable)."},
          {"inputSchema",
           {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}}},
          {"outputSchema",
           {{"type", "object"},
            {"properties",
             {{"generation", {{"type", json::array({"integer", "null"})}}},
              {"updatedAt", NullableString()},
              {"panic", {{"type", "boolean"}}},
              {"panicSince", NullableString()},
              {"servingRegions", StringArray()},
              {"failedRegions", StringArray()},
              {"regions", {{"type", "array"}, {"items", {{"type", "object"}}}}},
              {"lastTransitions", {{"type", "array"}, {"items", {{"type", "object"}}}}},
              {"activeDrills", {{"type", "array"}, {"items", DrillRefSchema()}}},
              {"observations", {{"type", "object"}}}}},
            {"required",
             {"panic", "servingRegions", "failedRegions", "regions", "lastTransitions",
              "activeDrills"}}}},
          {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}};
}

// get_drill_report: a drill's measured timeline.
json ReportTool(const json& region) {
  const json ts = {{"type", "object"}};
  return {
      {"name", "get_drill_report"},
      {"title", "Drill report"},
      {"description",
       "The measured timeline of a drill (by drill_id, or the latest drill of a region): injected "
       "at, first failed probe, region failed (state written), serving set changed, outage ended, "
       "region recovered, serving set restored, with durations in seconds. Every time comes from "
       "a real state change or controller transition; steps that did not happen yet are null. "
       "regional_failover_recovery_time = outage ended -> region recovered."},
      {"inputSchema",
       {{"type", "object"},
        {"properties", {{"region", region}, {"drill_id", {{"type", "string"}}}}},
        {"additionalProperties", false}}},
      {"outputSchema",
       {{"type", "object"},
        {"properties",
         {{"drillId", {{"type", "string"}}},
          {"region", {{"type", "string"}}},
          {"phase", {{"type", "string"}}},
          {"complete", {{"type", "boolean"}}},
          {"timeline", ts},
          {"durationsSeconds", ts},
          {"regional_failover_recovery_time", {{"type", json::array({"number", "null"})}}}}},
        {"required",
         {"drillId", "region", "phase", "complete", "timeline", "durationsSeconds",
          "regional_failover_recovery_time"}}}},
      {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}};
}

// list_regions: the configured regions with role and status.
json RegionsTool() {
  return {{"name", "list_regions"},
          {"title", "Regions"},
          {"description", "The configured regions with their role and current status."},
          {"inputSchema",
           {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}}},
          {"outputSchema",
           {{"type", "object"},
            {"properties",
             {{"regions",
               {{"type", "array"},
                {"items",
                 {{"type", "object"},
                  {"properties",
                   {{"name", {{"type", "string"}}},
                    {"active", {{"type", "boolean"}}},
                    {"priority", {{"type", "integer"}}},
                    {"status", {{"type", "string"}}},
                    {"serving", {{"type", "boolean"}}},
                    {"drillActive", {{"type", "boolean"}}}}},
                  {"required", {"name", "active", "priority", "status", "serving"}}}}}}}},
            {"required", {"regions"}}}},
          {"annotations", {{"readOnlyHint", true}, {"openWorldHint", false}}}};
}

// get_replication_status: newest snapshots on the remotes, data positions.
json ReplicationTool(const json& region) {
  return {
      {"name", "get_replication_status"},
      {"title", "Replication status"},
      {"description",
       "Per region, the newest snapshot on the replication remotes (mcp.replication.remotes), "
       "ordered by writer epoch then id: its id, epoch, writer, released flag, creation time, age "
       "(now minus the record's createdAt), files and bytes, which "
       "remotes have it, and which remotes failed to answer (with the error). Read live from "
       "the remotes on every call. positions: the regions whose gates report this lineage "
       "(from the controller's live probes): role (writer, follower, fenced), epoch, snapshot, "
       "caught up, and seconds behind the latest snapshot."},
      {"inputSchema",
       {{"type", "object"}, {"properties", {{"region", region}}}, {"additionalProperties", false}}},
      {"outputSchema",
       {{"type", "object"},
        {"properties",
         {{"measuredAt", {{"type", "string"}}},
          {"remotes", StringArray()},
          {"regions",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"properties",
               {{"region", {{"type", "string"}}},
                {"latest", {{"type", json::array({"object", "null"})}}},
                {"positions", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                {"haveLatest", StringArray()},
                {"missingLatest", StringArray()},
                {"failed", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                {"remotes", {{"type", "array"}, {"items", {{"type", "object"}}}}}}},
              {"required",
               {"region", "latest", "haveLatest", "missingLatest", "failed", "remotes"}}}}}}}},
        {"required", {"measuredAt", "remotes", "regions"}}}},
      {"annotations", {{"readOnlyHint", true}, {"openWorldHint", true}}}};
}

}  // namespace

json ToolDefinitions(const std::vector<std::string>& regions, const config::McpConfig& m) {
  const json region = {{"type", "string"},
                       {"enum", regions},
                       {"description", "Region name, exactly as configured."}};
  return json::array({SimulateTool(region, m), EndTool(region), StatusTool(), ReportTool(region),
                      RegionsTool(), ReplicationTool(region)});
}

}  // namespace aha::mcp
