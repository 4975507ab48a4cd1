// One open file (admin-settings.json or registry.json). Its UTF-8 text is the single source of
// truth: the form and the JSON pane are two views of it, every change to it is one command on the
// document's QUndoStack (so undo/redo crosses both panes), and every change re-runs the shared
// validator (eci::settings::validateBytes, what `eci-admin validate` runs) on the new text.
//
// Form edits go through the ordered JSON (nlohmann::ordered_json keeps the file's key order and
// the keys the schema does not know) and re-dump the text; raw edits replace the text as typed.
#pragma once

#include <QObject>
#include <QString>
#include <QUndoStack>
#include <optional>
#include <string>

#include "eci/settings/validator.h"
#include "json_text.h"

namespace eci::gui {

class Document : public QObject {
  Q_OBJECT

 public:
  explicit Document(eci::settings::FileKind kind, QObject* parent = nullptr);

  eci::settings::FileKind kind() const { return kind_; }
  // "admin-settings.json" / "registry.json" for a new file, else the file's name.
  QString label() const;
  const QString& path() const { return path_; }
  void setPath(const QString& path);

  const std::string& text() const { return text_; }
  QString qtext() const { return QString::fromStdString(text_); }
  // The text parses and was accepted by the validator's strict parser: the form can edit it.
  bool editable() const { return json_.has_value() && report_.parsed; }
  const Json& json() const;  // null when !editable()
  const eci::settings::Report& report() const { return report_; }
  // The value at the time of the last load or save (for the "changed" filter and the diff).
  const Json& baseline() const { return baseline_; }
  const std::string& baselineText() const { return baselineText_; }

  QUndoStack* undoStack() { return &undo_; }
  bool modified() const { return !undo_.isClean(); }

  // Replaces the whole document without undo history (open / new).
  void load(std::string bytes, const QString& path);
  // After a successful save of `bytes` to path(): new baseline, clean undo state.
  void markSaved(const std::string& bytes);
  // The on-disk version the document is compared with (diff, "changed", merge base, watcher),
  // without touching the undo state.
  void setBaseline(const std::string& bytes);

  // Undoable edits. `pointer` names the field for selection after undo/redo.
  void setTextUndoable(const std::string& text, const QString& what,
                       const std::string& pointer = {});
  // Sets (value) or removes (nullopt) the member at `pointer`; false when the document is not
  // editable or the pointer cannot be set.
  bool setValue(const std::string& pointer, const std::optional<Json>& value,
                const QString& what = {});
  // Appends to the array at `arrayPointer` (created when missing).
  bool append(const std::string& arrayPointer, const Json& value, const QString& what = {});

  // Used by the undo commands.
  void applyText(const std::string& text, const std::string& pointer);

 signals:
  // The text (and so the JSON, the report) changed; `pointer` is the field the change was about
  // ("" when unknown), for views that want to follow it.
  void changed(const QString& pointer);
  void pathChanged();

 private:
  void revalidate();

  eci::settings::FileKind kind_;
  QString path_;
  std::string text_;
  std::optional<Json> json_;
  eci::settings::Report report_;
  Json baseline_;
  std::string baselineText_;
  QUndoStack undo_;
};

}  // namespace eci::gui
