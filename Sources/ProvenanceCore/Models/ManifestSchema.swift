/// The manifest JSON Schema, generated: the envelope (below, as published in 1.0.0) and each
/// built-in section's data from its model (`SchemaTracer`). `provenance schema` prints it;
/// `Schemas/manifest-<version>.schema.json` is this output, and a test fails when it drifts.
public enum ManifestSchema {
    /// The schema of `Manifest.schemaVersion`.
    public static func generate() -> JSONValue {
        guard case .object(var schema) = try! JSONParser.parse(envelope),
              case .object(var properties) = schema["properties"]!,
              case .object(var sections) = properties["sections"]!,
              case .object(var defs) = schema["$defs"]!
        else { fatalError("the schema envelope is not an object") }
        var sectionProperties: [String: JSONValue] = [:]
        for model in SectionModels.all {
            let name = model.sectionID + ".data"
            defs[name] = dataSchema(model)
            sectionProperties[model.sectionID] = [
                "$ref": "#/$defs/section",
                "properties": [
                    "probeVersion": ["pattern": "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$"],
                    "data": ["$ref": .string("#/$defs/" + name)],
                ],
            ]
        }
        sections["properties"] = .object(sectionProperties)
        properties["sections"] = .object(sections)
        schema["properties"] = .object(properties)
        schema["$defs"] = .object(defs)
        return .object(schema)
    }

    /// The schema of one model's encoded form.
    public static func dataSchema(_ model: any SectionModel.Type) -> JSONValue {
        func trace<M: SectionModel>(_ type: M.Type) -> JSONValue { SchemaTracer.schema(of: M.self) }
        return trace(model)
    }

    /// The field paths a policy rule can name, with the section id in front
    /// (`gpu.nvidia.gpus[*].vbiosVersion`), for every built-in section.
    public static func fieldPaths() -> [String] {
        SectionModels.all.flatMap { model in
            [model.sectionID + ".status"] + SchemaTracer.fieldPaths(of: dataSchema(model)).map { model.sectionID + "." + $0 }
        }
    }

    /// The published envelope: everything but the sections' data. A section's `probeVersion` is
    /// any text (a site probe's may be `external`); built-in sections require MAJOR.MINOR.PATCH.
    static let envelope = #"""
{
  "$comment": "Generated from the section models (provenance schema; SchemaTracer): never edit by hand. Published schemas are never edited: a change to the manifest gets a new SchemaVer version and a new file. Every built-in section's data is typed by its model; any other section id (a site probe) has the generic section shape with any object as data.",
  "$defs": {
    "attachment": {
      "additionalProperties": false,
      "description": "One attached file: a file beside the manifest, or its bytes inline.",
      "oneOf": [
        {
          "properties": {
            "content": false,
            "encoding": false
          },
          "required": [
            "file"
          ]
        },
        {
          "properties": {
            "file": false
          },
          "required": [
            "content",
            "encoding"
          ]
        }
      ],
      "properties": {
        "content": {
          "description": "The bytes, inline.",
          "type": "string"
        },
        "encoding": {
          "description": "How content holds the bytes: as text (valid UTF-8) or base64.",
          "enum": [
            "utf-8",
            "base64"
          ]
        },
        "file": {
          "description": "The file's name, in the manifest's directory.",
          "pattern": "^[^/]+$",
          "type": "string"
        },
        "mediaType": {
          "description": "What the bytes are (text/x-diff for a git patch).",
          "minLength": 1,
          "type": "string"
        },
        "sizeBytes": {
          "$ref": "#/$defs/count",
          "description": "The size of the bytes."
        }
      },
      "required": [
        "mediaType",
        "sizeBytes"
      ],
      "type": "object"
    },
    "captureInfo": {
      "additionalProperties": false,
      "description": "How the capture was made (live or replayed from a recorded machine); not in the fingerprint.",
      "else": {
        "properties": {
          "root": false
        }
      },
      "if": {
        "properties": {
          "mode": {
            "const": "recorded"
          }
        },
        "required": [
          "mode"
        ]
      },
      "properties": {
        "durationMs": {
          "$ref": "#/$defs/count",
          "description": "Wall time of the whole capture in milliseconds; volatile."
        },
        "mode": {
          "description": "live, or recorded when replaying a recorded machine with --root.",
          "enum": [
            "live",
            "recorded"
          ]
        },
        "root": {
          "description": "The recorded machine's directory given with --root.",
          "minLength": 1,
          "type": "string"
        }
      },
      "required": [
        "mode",
        "durationMs"
      ],
      "then": {
        "required": [
          "root"
        ]
      },
      "type": "object"
    },
    "count": {
      "description": "A non-negative integer (a count, a size in bytes, an id).",
      "minimum": 0,
      "type": "integer"
    },
    "issue": {
      "additionalProperties": false,
      "description": "One problem a probe met: where (a file, a command) and what.",
      "properties": {
        "message": {
          "description": "What went wrong.",
          "minLength": 1,
          "type": "string"
        },
        "source": {
          "description": "Where: a file, a command, or capture.",
          "minLength": 1,
          "type": "string"
        }
      },
      "required": [
        "source",
        "message"
      ],
      "type": "object"
    },
    "section": {
      "$comment": "ok/partial sections carry data; absent/failed/skipped carry neither data nor volatile. ok has no issues; partial, absent and failed have at least one.",
      "additionalProperties": false,
      "allOf": [
        {
          "if": {
            "properties": {
              "status": {
                "enum": [
                  "ok",
                  "partial"
                ]
              }
            },
            "required": [
              "status"
            ]
          },
          "then": {
            "required": [
              "data"
            ]
          }
        },
        {
          "$comment": "{\"not\": {}} rather than false: some validators drop the property from the error path of a false schema.",
          "if": {
            "properties": {
              "status": {
                "enum": [
                  "absent",
                  "failed",
                  "skipped"
                ]
              }
            },
            "required": [
              "status"
            ]
          },
          "then": {
            "properties": {
              "data": {
                "not": {}
              },
              "volatile": {
                "not": {}
              }
            }
          }
        },
        {
          "if": {
            "properties": {
              "status": {
                "const": "ok"
              }
            },
            "required": [
              "status"
            ]
          },
          "then": {
            "properties": {
              "issues": {
                "maxItems": 0
              }
            }
          }
        },
        {
          "if": {
            "properties": {
              "status": {
                "enum": [
                  "partial",
                  "absent",
                  "failed"
                ]
              }
            },
            "required": [
              "status"
            ]
          },
          "then": {
            "properties": {
              "issues": {
                "minItems": 1
              }
            }
          }
        }
      ],
      "description": "One probe's part of the manifest.",
      "properties": {
        "data": {
          "description": "The facts; absent for absent, failed and skipped sections.",
          "type": "object"
        },
        "durationMs": {
          "$ref": "#/$defs/count",
          "description": "Wall time the probe took in milliseconds; volatile."
        },
        "identifying": {
          "description": "Top-level fields of data whose values identify the site, as a site probe declared them; --anonymize replaces their values. Not fingerprinted.",
          "items": {
            "minLength": 1,
            "type": "string"
          },
          "minItems": 1,
          "type": "array",
          "uniqueItems": true
        },
        "issues": {
          "description": "Problems the probe met, each with its source.",
          "items": {
            "$ref": "#/$defs/issue"
          },
          "type": "array"
        },
        "probeVersion": {
          "description": "The probe's version, bumped whenever its output for the same machine changes (MAJOR.MINOR.PATCH for built-in probes; a site probe's may be any text).",
          "type": "string",
          "minLength": 1
        },
        "status": {
          "description": "How far the probe got.",
          "enum": [
            "ok",
            "partial",
            "absent",
            "failed",
            "skipped"
          ]
        },
        "volatile": {
          "description": "Facts that change between two captures of an unchanged machine; not fingerprinted.",
          "type": "object"
        }
      },
      "required": [
        "status",
        "probeVersion",
        "issues",
        "durationMs"
      ],
      "type": "object"
    },
    "tool": {
      "additionalProperties": false,
      "description": "The tool that wrote the manifest.",
      "properties": {
        "name": {
          "description": "The tool's name.",
          "minLength": 1,
          "type": "string"
        },
        "version": {
          "description": "The tool's version; not in the fingerprint.",
          "minLength": 1,
          "type": "string"
        }
      },
      "required": [
        "name",
        "version"
      ],
      "type": "object"
    }
  },
  "$id": "https://provenance.dev/schemas/manifest-1.1.0.schema.json",
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "additionalProperties": false,
  "description": "One schema-versioned document (env.json) holding a section per probe.",
  "properties": {
    "attachments": {
      "additionalProperties": {
        "$ref": "#/$defs/attachment"
      },
      "description": "Files that belong with the manifest (the git patch), keyed by the sha256 digest sections refer to them by; where their bytes are is not environment, so not in the fingerprint.",
      "propertyNames": {
        "pattern": "^sha256:[0-9a-f]{64}$"
      },
      "type": "object"
    },
    "capture": {
      "$ref": "#/$defs/captureInfo"
    },
    "captureTime": {
      "description": "RFC 3339 UTC time the capture started; volatile, not in the fingerprint.",
      "format": "date-time",
      "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?Z$",
      "type": "string"
    },
    "fingerprint": {
      "description": "sha256 of the canonical JSON of the schema version and each section's status, probe version and data.",
      "pattern": "^sha256:[0-9a-f]{64}$",
      "type": "string"
    },
    "hostName": {
      "description": "The host name of the captured machine; identity, not environment, so not in the fingerprint.",
      "minLength": 1,
      "type": "string"
    },
    "schemaVersion": {
      "description": "The manifest schema version (SchemaVer); 1.x manifests are read by this version.",
      "pattern": "^1\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$",
      "type": "string"
    },
    "sections": {
      "$comment": "Keys are probe ids (os, cpu, gpu.nvidia). Unknown ids (site probes) are allowed: they follow the generic section shape with any object data.",
      "additionalProperties": {
        "$ref": "#/$defs/section"
      },
      "description": "One section per probe, keyed by probe id.",
      "properties": {},
      "propertyNames": {
        "pattern": "^[a-z][a-z0-9]*(\\.[a-z][a-z0-9-]*)*$"
      },
      "type": "object"
    },
    "tool": {
      "$ref": "#/$defs/tool"
    }
  },
  "required": [
    "schemaVersion",
    "tool",
    "captureTime",
    "capture",
    "fingerprint",
    "sections"
  ],
  "title": "provenance manifest 1.1.0",
  "type": "object"
}
"""#
}
