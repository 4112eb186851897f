using Microsoft.Playwright;

namespace Edge.Testing.Browser;

/// <summary>
/// Where the browser actually draws parts of a text: right-to-left letters reorder the digits and slashes next to them
/// without any control character, so a text node's content says nothing about what the reader sees.
/// </summary>
public static class VisualOrder
{
    /// <summary>
    /// Whether <paramref name="first"/> is drawn left of <paramref name="second"/>, both looked up inside
    /// <paramref name="text"/>, which one text node of the element holds.
    /// </summary>
    public static Task<bool> IsDrawnBeforeAsync(ILocator element, string text, string first, string second) =>
        element.EvaluateAsync<bool>("""
            (element, [text, first, second]) => {
              const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
              let node = walker.nextNode();
              while (node && !node.data.includes(text)) {
                node = walker.nextNode();
              }
              if (!node) {
                throw new Error('text not shown in one piece: ' + element.textContent);
              }
              const start = node.data.indexOf(text);
              const left = (part) => {
                const range = document.createRange();
                const index = start + text.indexOf(part);
                range.setStart(node, index);
                range.setEnd(node, index + part.length);
                return range.getBoundingClientRect().left;
              };
              return left(first) < left(second);
            }
            """, new[] { text, first, second });
}
