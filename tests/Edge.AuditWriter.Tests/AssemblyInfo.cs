namespace Edge.AuditWriter.Tests;
