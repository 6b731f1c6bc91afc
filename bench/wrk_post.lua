-- wrk script: POST /predict with bodies taken in turn from the file named by BODIES
-- (one JSON body per line), so the load is real clinical sentences, not one repeated string.
local bodies = {}
local next_body = 1

function init(args)
  for line in io.lines(os.getenv("BODIES")) do
    bodies[#bodies + 1] = line
  end
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, body)
end
