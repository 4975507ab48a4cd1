#include "document.h"

#include <QFileInfo>
#include <QUndoCommand>

namespace eci::gui {
namespace {

// Every edit is a text replacement: undo restores the exact previous bytes, whichever pane made
// the change, so the two panes can never disagree about what undo means.
class TextCommand : public QUndoCommand {
 public:
  TextCommand(Document* doc, std::string before, std::string after, std::string pointer,
              const QString& what)
      : QUndoCommand(what),
        doc_(doc),
        before_(std::move(before)),
        after_(std::move(after)),
        pointer_(std::move(pointer)) {}
  void undo() override { doc_->applyText(before_, pointer_); }
  void redo() override { doc_->applyText(after_, pointer_); }

 private:
  Document* doc_;
  std::string before_;
  std::string after_;
  std::string pointer_;
};

const Json& nullJson() {
  static const Json kNull;
  return kNull;
}

}  // namespace

Document::Document(eci::settings::FileKind kind, QObject* parent) : QObject(parent), kind_(kind) {
  load(kind == eci::settings::FileKind::kRegistry ? "{\n  \"allowedOrgs\": []\n}\n"
                                                  : "{\n  \"configurationFileVersion\": 2\n}\n",
       {});
}

QString Document::label() const {
  if (!path_.isEmpty()) return QFileInfo(path_).fileName();
  return kind_ == eci::settings::FileKind::kRegistry ? QStringLiteral("registry.json")
                                                     : QStringLiteral("admin-settings.json");
}

void Document::setPath(const QString& path) {
  path_ = path;
  revalidate();
  emit pathChanged();
  emit changed({});
}

const Json& Document::json() const {
  return json_ ? *json_ : nullJson();
}

void Document::load(std::string bytes, const QString& path) {
  path_ = path;
  text_ = std::move(bytes);
  revalidate();
  baselineText_ = text_;
  baseline_ = json_ ? *json_ : Json();
  undo_.clear();
  undo_.setClean();
  emit pathChanged();
  emit changed({});
}

void Document::setBaseline(const std::string& bytes) {
  baselineText_ = bytes;
  baseline_ = parseOrdered(bytes).value_or(Json());
  emit changed({});
}

void Document::markSaved(const std::string& bytes) {
  undo_.setClean();
  setBaseline(bytes);
}

void Document::revalidate() {
  json_ = parseOrdered(text_);
  report_ = eci::settings::validateBytes(text_, label().toStdString(), kind_);
}

void Document::applyText(const std::string& text, const std::string& pointer) {
  if (text == text_) return;
  text_ = text;
  revalidate();
  emit changed(QString::fromStdString(pointer));
}

void Document::setTextUndoable(const std::string& text, const QString& what,
                               const std::string& pointer) {
  if (text == text_) return;
  undo_.push(new TextCommand(this, text_, text, pointer, what));
}

bool Document::setValue(const std::string& pointer, const std::optional<Json>& value,
                        const QString& what) {
  if (!editable()) return false;
  Json next = *json_;
  if (value) {
    if (const Json* cur = at(next, pointer); cur != nullptr && *cur == *value) return true;
    if (!setAt(next, pointer, *value)) return false;
  } else if (!removeAt(next, pointer)) {
    return at(next, pointer) == nullptr;  // already absent: nothing to do
  }
  const QString label =
      what.isEmpty() ? (value ? tr("Set %1") : tr("Remove %1")).arg(QString::fromStdString(pointer))
                     : what;
  setTextUndoable(dumpText(next), label, pointer);
  return true;
}

bool Document::append(const std::string& arrayPointer, const Json& value, const QString& what) {
  if (!editable()) return false;
  Json next = *json_;
  const Json* arr = at(next, arrayPointer);
  if (arr == nullptr) {
    if (!setAt(next, arrayPointer, Json::array())) return false;
    arr = at(next, arrayPointer);
  }
  if (arr == nullptr || !arr->is_array()) return false;
  const std::string item = arrayPointer + "/" + std::to_string(arr->size());
  if (!setAt(next, item, value)) return false;
  setTextUndoable(dumpText(next),
                  what.isEmpty() ? tr("Add to %1").arg(QString::fromStdString(arrayPointer)) : what,
                  item);
  return true;
}

}  // namespace eci::gui
