using System.Buffers.Binary;
using Edge.Audit.Merkle;
using Edge.Audit.Tiles;
using Edge.AuditWriter.Authorization;
using Edge.AuditWriter.Hosting;
using Edge.AuditWriter.Log;
using Microsoft.Extensions.Options;

namespace Edge.AuditWriter.Api;

/// <summary>
/// The C2SP tlog-tiles read paths, so tlog clients and witnesses can follow the log: <c>/checkpoint</c> (public, like
/// <c>/audit/checkpoint</c>), hash tiles <c>/tile/&lt;L&gt;/&lt;N&gt;[.p/&lt;W&gt;]</c> (audit.tiles, audit.read or
/// audit.read.all; public with Writer:PublicTiles) and entry bundles <c>/tile/entries/&lt;N&gt;[.p/&lt;W&gt;]</c>
/// (audit.read.all only: they are every tenant's records). See docs/audit.md, "Tiles".
/// </summary>
internal static class TileEndpoints
{
    private const string ImmutableFor = "max-age=31536000, immutable";

    // A partial tile's bytes never change either, but it is replaced by the full tile; clients fetch it again soon.
    private const string PartialFor = "max-age=60";

    public static void Map(WebApplication app)
    {
        app.MapGet("/checkpoint", (HttpContext context, AuditLog log) =>
        {
            context.Response.Headers.CacheControl = "no-cache";
            return Results.Text(log.LatestCheckpoint.Note, "text/plain; charset=utf-8");
        }).WithMetadata(ReadEndpoints.GetOrHead);
        app.MapGet("/tile/{**path}", TileAsync).WithMetadata(ReadEndpoints.GetOrHead);
    }

    private static async Task<IResult> TileAsync(
        string? path, HttpContext context, AuditLog log, CallerAuthenticator authenticator, IOptions<WriterOptions> options)
    {
        if (!TilePath.TryParse(path, out var address))
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "invalid_tile_path", "Bad tile path",
                "Tiles are tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], N in 3-digit groups (x001/x234/067), as C2SP tlog-tiles spells them.");
        }

        var isPublic = options.Value.PublicTiles && !address.Entries;
        if (!isPublic)
        {
            var (caller, refusal) = await authenticator.AuthenticateAsync(context.Request).ConfigureAwait(false);
            if (caller is null)
            {
                return refusal!;
            }

            if (address.Entries ? !caller.CanReadAllTenants : !(caller.CanRead || caller.CanReadTiles))
            {
                return Problems.Create(StatusCodes.Status403Forbidden, "missing_permission", "Forbidden", address.Entries
                    ? "Entry bundles hold every tenant's records: audit.read.all is required."
                    : "Hash tiles need audit.tiles, audit.read or audit.read.all.");
            }
        }

        var size = log.Size;
        var hashesAtLevel = address.Level * Tile.Height >= 64 ? 0 : size >> (address.Level * Tile.Height);
        // Full tiles exist once all 256 hashes do; .p/W is served while the tree holds at least W hashes of that tile.
        // (the first test keeps the product below from overflowing for an index of up to 10^18)
        if (address.Index > hashesAtLevel / Tile.FullWidth || address.Index * Tile.FullWidth + address.Width > hashesAtLevel)
        {
            return NotFound(address, size);
        }

        var caching = (isPublic ? "public, " : "private, ") + (address.IsPartial ? PartialFor : ImmutableFor);
        return address.Entries ? Entries(context, log, address) : Hashes(context, log, address, caching);
    }

    private static IResult Hashes(HttpContext context, AuditLog log, TileAddress address, string caching)
    {
        var tile = log.ReadTile(address.Level, address.Index);
        if (tile is null || tile.Width < address.Width)
        {
            // The tree has these hashes, so the tiles must: a store that lost them is broken, not the request.
            throw new InvalidOperationException($"Tile {TilePath.Format(address)} is missing from the store; run 'edge audit verify'.");
        }

        context.Response.Headers.CacheControl = caching;
        return Results.Bytes(tile.Hashes.AsMemory(0, address.Width * MerkleHasher.HashSize), "application/octet-stream");
    }

    /// <summary>
    /// A bundle is served only when every one of its leaves still has its bytes: a record pruned by retention or
    /// erasure keeps its leaf hash (the level-0 tile stays complete) but its bundle answers 404 entries_pruned.
    /// Never cached: erasure and retention must be able to take a bundle back.
    /// </summary>
    private static IResult Entries(HttpContext context, AuditLog log, TileAddress address)
    {
        var leaves = log.Store.ReadLeafBytes(address.Index * Tile.FullWidth, address.Width);
        if (leaves.Count != address.Width || leaves.Any(leaf => leaf.Length == 0))
        {
            return Problems.Create(StatusCodes.Status404NotFound, "entries_pruned", "Entries pruned",
                "Some records of this bundle were pruned by retention or erasure; their hashes remain in the level-0 tile.");
        }

        if (leaves.Any(leaf => leaf.Length > ushort.MaxValue))
        {
            return Problems.Create(StatusCodes.Status404NotFound, "entry_too_large", "Entry too large",
                "A record of this bundle exceeds the 65535 bytes an entry bundle can frame; read it through /audit/records.");
        }

        var body = new byte[leaves.Sum(leaf => 2 + leaf.Length)];
        var offset = 0;
        foreach (var leaf in leaves)
        {
            BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(offset), (ushort)leaf.Length);
            leaf.CopyTo(body.AsSpan(offset + 2));
            offset += 2 + leaf.Length;
        }

        context.Response.Headers.CacheControl = "private, no-store";
        return Results.Bytes(body, "application/octet-stream");
    }

    private static IResult NotFound(TileAddress address, long size) =>
        Problems.Create(StatusCodes.Status404NotFound, "tile_not_found", "Tile not found",
            $"{TilePath.Format(address)} is not (yet) part of the tree of {size} leaves.");
}
