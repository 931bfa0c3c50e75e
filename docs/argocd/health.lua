-- Argo CD health for sd-operator.io CloudMapNamespace and ServiceDiscovery (both kinds).
-- It reads status the way kstatus does (docs/health.md: "Health for Flux, Argo CD and kubectl wait"),
-- so Argo CD and Flux agree: Stalled -> Degraded, Reconciling or an unobserved generation ->
-- Progressing, Ready -> Healthy; Paused -> Suspended.
local hs = {status = "Progressing", message = "waiting for sd-operator to report status"}
local meta = obj.metadata or {}
-- Paused (annotation sd-operator.io/paused): sd-operator makes no AWS call, deletes included,
-- until the annotation is removed.
for _, c in ipairs((obj.status or {}).conditions or {}) do
  if c.type == "Paused" and c.status == "True" then
    return {status = "Suspended", message = c.message or "paused"}
  end
end
if meta.deletionTimestamp ~= nil then
  hs.message = "being deleted"
  return hs
end
local status = obj.status
if status == nil then
  return hs
end
local observed = status.observedGeneration
if meta.generation ~= nil and observed ~= nil and observed ~= meta.generation then
  hs.message = "generation " .. tostring(meta.generation) ..
    " is not reconciled yet (observed " .. tostring(observed) .. ")"
  for _, c in ipairs(status.conditions or {}) do
    if c.type == "Reconciling" and c.status == "True" and c.message ~= nil and c.message ~= "" then
      hs.message = hs.message .. ": " .. c.message
    end
  end
  return hs
end
local ready = nil
for _, c in ipairs(status.conditions or {}) do
  local detail = (c.reason or "") .. ": " .. (c.message or "")
  if c.type == "Stalled" and c.status == "True" then
    hs.status = "Degraded"
    hs.message = detail
    return hs
  end
  if c.type == "Reconciling" and c.status == "True" then
    hs.message = detail
    return hs
  end
  if c.type == "Ready" then
    ready = c
  end
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
elseif ready ~= nil then
  hs.message = (ready.reason or "") .. ": " .. (ready.message or "")
end
return hs
