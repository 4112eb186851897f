namespace Edge.Configuration.Tests.Validation;

/// <summary>A temporary folder holding schema files (and proxy.json) for one test.</summary>
internal sealed class SchemaFiles : IDisposable
{
    public const string OrderSchema = """
    {
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "required": ["amount", "currency"],
      "additionalProperties": false,
      "properties": {
        "amount": { "type": "integer", "minimum": 1 },
        "currency": { "type": "string", "pattern": "^[A-Z]{3}$" },
        "note": { "type": ["string", "null"], "maxLength": 20 },
        "customer": { "$ref": "#/$defs/customer" },
        "items": { "type": "array", "maxItems": 50, "items": { "$ref": "#/$defs/item" } }
      },
      "$defs": {
        "customer": {
          "type": "object",
          "required": ["id"],
          "properties": { "id": { "type": "string" }, "address": { "type": "object", "properties": { "zip": { "type": "string", "maxLength": 10 } } } }
        },
        "item": { "type": "object", "required": ["sku", "qty"], "properties": { "sku": { "type": "string" }, "qty": { "type": "integer", "minimum": 1 } } }
      }
    }
    """;

    public SchemaFiles() => Directory = System.IO.Directory.CreateTempSubdirectory("edge-schema-").FullName;

    public string Directory { get; }

    public string Write(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
