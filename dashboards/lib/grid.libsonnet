// Lays panels out on Grafana's 24-column grid, left to right and wrapping, one section per row
// panel, and numbers them. Sizes are hidden fields set with `size`, so sources never write gridPos
// or ids and two panels can never overlap.
local width = 24;
{
  // Mixin that sets a panel's size in grid units.
  size(w, h=8):: { gridSize:: { w: w, h: h } },

  // A titled group of panels: becomes a row panel followed by the group's panels.
  section(title, panels):: { title: title, panels: panels },

  // sections: a list of `section`s. Returns the flat panel list Grafana expects.
  layout(sections)::
    local place(state, panel) =
      local sz = if std.objectHasAll(panel, 'gridSize') then panel.gridSize else { w: 8, h: 8 };
      local wraps = state.x + sz.w > width;
      local x = if wraps then 0 else state.x;
      local y = if wraps then state.y + state.rowHeight else state.y;
      local rowHeight = if wraps then sz.h else std.max(state.rowHeight, sz.h);
      state {
        x: x + sz.w,
        y: y,
        rowHeight: rowHeight,
        id: state.id + 1,
        out+: [panel { id: state.id, gridPos: { x: x, y: y, w: sz.w, h: sz.h } }],
      };
    local addSection(state, section) =
      local rowY = state.y + state.rowHeight;
      local row = {
        type: 'row',
        title: section.title,
        collapsed: false,
        panels: [],
        id: state.id,
        gridPos: { x: 0, y: rowY, w: width, h: 1 },
      };
      std.foldl(
        place,
        section.panels,
        state { x: 0, y: rowY + 1, rowHeight: 0, id: state.id + 1, out+: [row] }
      );
    std.foldl(addSection, sections, { x: 0, y: 0, rowHeight: 0, id: 1, out: [] }).out,
}
