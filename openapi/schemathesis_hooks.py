"""Schemathesis hooks for fuzzing Platform Catalog (see "Development" in README.md).

`GET /api/v1/clusters/{name}/render` answers `application/yaml`: a stream of YAML documents, an
OCIRepository and a Kustomization per component (none for a cluster without components), which
is what Flux applies and what `application/yaml` allows (RFC 9512). Schemathesis reads a YAML
answer as a single document and fails on the stream, so this reads it as the text the OpenAPI
document describes (`type: string`). Schemathesis picks the first deserializer of the YAML
family it knows, so every YAML media type is taken over.
"""

import schemathesis


@schemathesis.deserializer("text/yaml", "text/x-yaml", "application/x-yaml", "text/vnd.yaml", "application/yaml")
def yaml_stream_as_text(_ctx, response):
    return response.content.decode(response.encoding or "utf-8")
