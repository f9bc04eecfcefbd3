/* ct_vtk.cxx — the one C++ file that talks to VTK: .vtu writing (atomic, zlib, appended binary)
 * and reading, behind the C API of ct_vtk.h.
 *
 * Every entry point catches all C++ exceptions and turns them into a ct_status. VTK reports errors by
 * firing ErrorEvent on the object at fault (and printing to stderr if nobody listens); an observer
 * (ct_vtk_error_capture) listens on the writer, reader and XML parser, so the text lands in the
 * ct_error message instead of on the terminal.
 */
#include "ct_vtk.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vtkAlgorithm.h>
#include <vtkCallbackCommand.h>
#include <vtkCellArray.h>
#include <vtkCellData.h>
#include <vtkCellTypes.h>
#include <vtkCommand.h>
#include <vtkDataArray.h>
#include <vtkDoubleArray.h>
#include <vtkErrorCode.h>
#include <vtkExecutive.h>
#include <vtkIdList.h>
#include <vtkIdTypeArray.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkUnstructuredGrid.h>
#include <vtkXMLDataElement.h>
#include <vtkXMLDataParser.h>
#include <vtkXMLUnstructuredGridReader.h>
#include <vtkXMLUnstructuredGridWriter.h>

namespace {

/* ---- capture of VTK error text ---------------------------------------------------------------- */

struct ct_vtk_error_capture {
    std::string text; /* messages joined by "; " */
    vtkNew<vtkCallbackCommand> command;

    vtkNew<vtkCallbackCommand> discard;

    ct_vtk_error_capture()
    {
        command->SetCallback(&ct_vtk_error_capture::on_event);
        command->SetClientData(this);
        discard->SetCallback([](vtkObject *, unsigned long, void *, void *) {});
    }
    /* Captures the errors of `algo` and its XML parts; silences its pipeline executive, whose only
     * message ("Algorithm ... returned failure for request: <dump>") repeats what `algo` said. */
    void watch(vtkAlgorithm *algo)
    {
        algo->AddObserver(vtkCommand::ErrorEvent, command);
        algo->GetExecutive()->AddObserver(vtkCommand::ErrorEvent, discard);
    }

    static void on_event(vtkObject *, unsigned long, void *client, void *call_data)
    {
        auto *self = static_cast<ct_vtk_error_capture *>(client);
        const char *msg = static_cast<const char *>(call_data);
        if (msg == nullptr)
            return;
        /* VTK's text is "ERROR: In <source>, line N\n<Class> (0x<addr>): <message>\n\n";
         * keep "<Class>: <message>". */
        std::string m(msg);
        if (m.compare(0, 10, "ERROR: In ") == 0 && m.find('\n') != std::string::npos)
            m.erase(0, m.find('\n') + 1);
        const size_t addr = m.find(" (0x");
        if (addr != std::string::npos) {
            size_t end = addr + 4;
            while (end < m.size() && std::isxdigit(static_cast<unsigned char>(m[end])))
                ++end;
            if (end < m.size() && m[end] == ')')
                m.erase(addr, end + 1 - addr);
        }
        while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
            m.pop_back();
        if (!self->text.empty())
            self->text += "; ";
        self->text += m;
    }
    /* The captured text, or `fallback` if VTK said nothing. */
    const char *or_else(const char *fallback) const { return text.empty() ? fallback : text.c_str(); }
};

/* ---- argument checks -------------------------------------------------------------------------- */

ct_status check_fields(const char *path, const char *where, const ct_vtk_field *fields, int n_fields,
                       size_t n_items)
{
    if (n_fields < 0)
        return ct_error_set(CT_ERR_INTERNAL, "%s: n_%s_fields = %d is negative", path, where, n_fields);
    if (n_fields > 0 && fields == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "%s: %d %s fields but the array is NULL", path, n_fields,
                            where);
    for (int i = 0; i < n_fields; ++i) {
        const ct_vtk_field &f = fields[i];
        if (f.name == nullptr || f.name[0] == '\0')
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field #%d has no name", path, where, i);
        if (f.n_components < 1)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": n_components = %d, must be >= 1",
                                path, where, f.name, f.n_components);
        if (f.data == nullptr && n_items > 0)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": data is NULL", path, where, f.name);
        for (int j = 0; j < i; ++j)
            if (std::strcmp(fields[j].name, f.name) == 0)
                return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\" appears twice", path, where,
                                    f.name);
    }
    return CT_OK;
}

void add_fields(vtkFieldData *dst, const ct_vtk_field *fields, int n_fields, size_t n_items)
{
    for (int i = 0; i < n_fields; ++i) {
        vtkNew<vtkDoubleArray> arr;
        arr->SetName(fields[i].name);
        arr->SetNumberOfComponents(fields[i].n_components);
        arr->SetNumberOfTuples(static_cast<vtkIdType>(n_items));
        const size_t n = n_items * static_cast<size_t>(fields[i].n_components);
        if (n > 0)
            std::memcpy(arr->GetPointer(0), fields[i].data, n * sizeof(double));
        dst->AddArray(arr);
    }
}

/* open/fsync/close: make the temp file's contents durable before the rename publishes it. */
ct_status fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot reopen for fsync: %s", path, std::strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL && err != EROFS) /* EINVAL/EROFS: file system without fsync */
        return ct_error_set(CT_ERR_IO, "%s: fsync failed: %s", path, std::strerror(err));
    return CT_OK;
}

ct_status write_vtu(const char *path, size_t n_points, const double *xyz_mm, size_t n_tets,
                    const int32_t *tets, const ct_vtk_field *point_fields, int n_point_fields,
                    const ct_vtk_field *cell_fields, int n_cell_fields)
{
    if (path == nullptr || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_write_vtu: path is NULL or empty");
    if ((n_points > 0 && xyz_mm == nullptr) || (n_tets > 0 && tets == nullptr))
        return ct_error_set(CT_ERR_INTERNAL, "%s: points or tets array is NULL", path);
    if (n_points > static_cast<size_t>(INT32_MAX))
        return ct_error_set(CT_ERR_MESH, "%s: %zu points exceed the int32 index range", path, n_points);
    for (size_t t = 0; t < n_tets; ++t)
        for (int k = 0; k < 4; ++k) {
            int32_t v = tets[4 * t + k];
            if (v < 0 || static_cast<size_t>(v) >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: tet %zu corner %d: point index %d outside [0, %zu)",
                                    path, t, k, static_cast<int>(v), n_points);
        }
    CT_CHECK(check_fields(path, "point", point_fields, n_point_fields, n_points));
    CT_CHECK(check_fields(path, "cell", cell_fields, n_cell_fields, n_tets));

    /* Build the grid: copies of the caller's arrays (VTK must not alias borrowed const memory). */
    vtkNew<vtkUnstructuredGrid> grid;
    vtkNew<vtkDoubleArray> xyz;
    xyz->SetNumberOfComponents(3);
    xyz->SetNumberOfTuples(static_cast<vtkIdType>(n_points));
    if (n_points > 0)
        std::memcpy(xyz->GetPointer(0), xyz_mm, 3 * n_points * sizeof(double));
    vtkNew<vtkPoints> points;
    points->SetData(xyz);
    grid->SetPoints(points);

    vtkNew<vtkIdTypeArray> offsets, connectivity;
    offsets->SetNumberOfTuples(static_cast<vtkIdType>(n_tets + 1));
    connectivity->SetNumberOfTuples(static_cast<vtkIdType>(4 * n_tets));
    for (size_t t = 0; t <= n_tets; ++t)
        offsets->SetValue(static_cast<vtkIdType>(t), static_cast<vtkIdType>(4 * t));
    for (size_t i = 0; i < 4 * n_tets; ++i)
        connectivity->SetValue(static_cast<vtkIdType>(i), tets[i]);
    vtkNew<vtkCellArray> cells;
    cells->SetData(offsets, connectivity);
    grid->SetCells(VTK_TETRA, cells);

    add_fields(grid->GetPointData(), point_fields, n_point_fields, n_points);
    add_fields(grid->GetCellData(), cell_fields, n_cell_fields, n_tets);

    /* Write to PATH.tmp.<pid>, then rename over PATH. */
    const std::string tmp = std::string(path) + ".tmp." + std::to_string(static_cast<long>(getpid()));
    ct_vtk_error_capture errors;
    vtkNew<vtkXMLUnstructuredGridWriter> writer;
    errors.watch(writer);
    writer->SetFileName(tmp.c_str());
    writer->SetInputData(grid);
    writer->SetDataModeToAppended();
    writer->EncodeAppendedDataOff(); /* raw binary, not base64 */
    writer->SetCompressorTypeToZLib();
    writer->SetHeaderTypeToUInt64(); /* blocks > 4 GiB stay addressable */

    const int ok = writer->Write();
    const unsigned long code = writer->GetErrorCode();
    if (ok != 1 || code != vtkErrorCode::NoError || !errors.text.empty()) {
        int saved_errno = errno;
        std::remove(tmp.c_str());
        const char *why = code != vtkErrorCode::NoError ? vtkErrorCode::GetStringFromErrorCode(code)
                                                         : std::strerror(saved_errno);
        return ct_error_set(CT_ERR_IO, "%s: cannot write (temp file %s): %s: %s", path, tmp.c_str(), why,
                            errors.or_else("VTK writer failed"));
    }
    ct_status s = fsync_file(tmp.c_str());
    if (s != CT_OK) {
        std::remove(tmp.c_str());
        return s;
    }
    if (std::rename(tmp.c_str(), path) != 0) {
        int err = errno;
        std::remove(tmp.c_str());
        return ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp.c_str(),
                            std::strerror(err));
    }
    return CT_OK;
}

/* Runs `body` and maps any escaping C++ exception onto a ct_status. */
template <class F> ct_status guarded(const char *what, const char *path, F body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        /* Reading, VTK allocates what the file declares: a corrupt size field ends here too. */
        return ct_error_set(CT_ERR_NOMEM, "%s: %s: out of memory%s", path ? path : "(null)", what,
                            std::strncmp(what, "reading", 7) == 0 ? " (or a corrupt file declaring more data than "
                                                                    "fits in memory)" : "");
    } catch (const std::exception &e) {
        return ct_error_set(CT_ERR_INTERNAL, "%s: %s: C++ exception: %s", path ? path : "(null)", what,
                            e.what());
    } catch (...) {
        return ct_error_set(CT_ERR_INTERNAL, "%s: %s: unknown C++ exception", path ? path : "(null)", what);
    }
}

} // namespace

/* ---- the grid read back ----------------------------------------------------------------------- */

struct ct_vtk_grid {
    struct field {
        std::string name;
        int n_components;
        std::vector<double> data;
    };
    std::string path;
    std::vector<double> points;
    std::vector<int32_t> tets;
    std::vector<field> point_fields, cell_fields;
};

namespace {

void copy_fields(vtkFieldData *src, std::vector<ct_vtk_grid::field> &dst)
{
    for (int i = 0; i < src->GetNumberOfArrays(); ++i) {
        vtkDataArray *a = vtkDataArray::SafeDownCast(src->GetAbstractArray(i));
        if (a == nullptr || a->GetName() == nullptr) /* string / unnamed arrays are not fields */
            continue;
        ct_vtk_grid::field f;
        f.name = a->GetName();
        f.n_components = a->GetNumberOfComponents();
        const vtkIdType n_tuples = a->GetNumberOfTuples();
        f.data.resize(static_cast<size_t>(n_tuples) * static_cast<size_t>(f.n_components));
        for (vtkIdType t = 0; t < n_tuples; ++t)
            for (int c = 0; c < f.n_components; ++c)
                f.data[static_cast<size_t>(t) * f.n_components + c] = a->GetComponent(t, c);
        dst.push_back(std::move(f));
    }
}

/* The .vtu reader, with two VTK 9.1 bugs worked around; both crash on malformed files:
 *  - vtkXMLDataReader::ReadPieceData hands a NULL array to ReadArrayForPoints/ReadArrayForCells when a
 *    <PointData>/<CellData> element holds a DataArray for which no array was set up (no Name, say);
 *  - when a cell data array cannot be read (too short, truncated or corrupt data), it reports this with
 *    a message that dereferences the piece's <PointData> element, which files with cell fields only
 *    (as meshio writes them) do not have.
 * Such failures are recorded here instead and VTK is told the array was read; read_vtu then rejects
 * the file, naming the array.
 * A third bug writes past the end of the heap: VTK sizes each array from counts the file declares
 * (NumberOfPoints, NumberOfCells, the last entry of "offsets" for the connectivity) with unchecked
 * multiplications, so a huge count wraps to a small allocation, and the data read then fills it with
 * as many bytes as the block holds (found by fuzz_vtu: one flipped byte in the last offset). Every
 * read of values goes through ReadArrayValues, so it is checked there: the count must fit the array
 * VTK actually allocated, and no file can hold more values than it has bytes (1 byte is the smallest
 * value, raw; compressed blocks expand at most 65536-fold here, far beyond zlib, LZ4 or LZMA in VTK's
 * 32 KiB blocks), which keeps every byte count far from wrapping. */
class ct_vtu_reader : public vtkXMLUnstructuredGridReader {
public:
    static ct_vtu_reader *New();
    vtkTypeMacro(ct_vtu_reader, vtkXMLUnstructuredGridReader);
    std::string bad_array; /* the first point/cell data array VTK could not read; "" if none */
    std::string bad_count; /* the first array whose declared size is impossible; "" if none */
    long long file_bytes = 0; /* size of the file being read, set before Update() */

protected:
    /* Counts are checked per piece, before VTK allocates anything from them. */
    int ReadPiece(vtkXMLDataElement *piece) override
    {
        const char *counts[2] = {"NumberOfPoints", "NumberOfCells"};
        for (int k = 0; k < 2; ++k) {
            vtkIdType n = 0;
            if (piece->GetScalarAttribute(counts[k], n)) {
                total[k] = n < 0 || n > max_values() - total[k] ? -1 : total[k] + n;
                if (total[k] < 0)
                    return refuse(std::string(counts[k]) + "=\"" + piece->GetAttribute(counts[k]) +
                                  "\" is more than a file of " + std::to_string(file_bytes) + " bytes can hold");
            }
        }
        /* Point and cell data arrays get NumberOfComponents values per point or cell. */
        const char *sections[2] = {"PointData", "CellData"};
        for (int k = 0; k < 2; ++k) {
            vtkXMLDataElement *section = piece->FindNestedElementWithName(sections[k]);
            for (int i = 0; section && i < section->GetNumberOfNestedElements(); ++i) {
                vtkXMLDataElement *da = section->GetNestedElement(i);
                int comps = 1;
                if (da->GetScalarAttribute("NumberOfComponents", comps) &&
                    (comps < 1 || (total[k] > 0 && comps > max_values() / total[k]))) {
                    const char *name = da->GetAttribute("Name");
                    return refuse(std::string(k ? "cell" : "point") + " data array \"" + (name ? name : "(unnamed)") +
                                  "\": NumberOfComponents=\"" + std::to_string(comps) + "\" is out of range [1, " +
                                  std::to_string(total[k] > 0 ? max_values() / total[k] : max_values()) + "]");
                }
            }
        }
        return Superclass::ReadPiece(piece);
    }
    int ReadArrayValues(vtkXMLDataElement *da, vtkIdType array_index, vtkAbstractArray *array,
                        vtkIdType start_index, vtkIdType n_values, FieldType type) override
    {
        const vtkIdType held = array ? array->GetNumberOfValues() : 0;
        if (n_values < 0 || array_index < 0 || start_index < 0 || n_values > max_values() ||
            array_index > held - n_values || (n_values > 0 && array->GetVoidPointer(0) == nullptr)) {
            const char *name = da ? da->GetAttribute("Name") : nullptr;
            vtkXMLDataElement *parent = da ? da->GetParent() : nullptr;
            std::string what = std::string("data array \"") +
                               (name ? name : parent && parent->GetName() ? parent->GetName() : "(unnamed)") +
                               "\"";
            return refuse(what + " declares " + (n_values < 0 ? "more than 2^63" : std::to_string(n_values)) +
                          " values, more than a file of " + std::to_string(file_bytes) +
                          " bytes can hold or than could be allocated (corrupt NumberOfPoints, NumberOfCells, "
                          "NumberOfComponents or \"offsets\")");
        }
        return Superclass::ReadArrayValues(da, array_index, array, start_index, n_values, type);
    }
    int ReadArrayForPoints(vtkXMLDataElement *da, vtkAbstractArray *out_array) override
    {
        if (out_array == nullptr)
            return note_bad("point", da);
        return Superclass::ReadArrayForPoints(da, out_array); /* its failure message is safe */
    }
    int ReadArrayForCells(vtkXMLDataElement *da, vtkAbstractArray *out_array) override
    {
        if (out_array == nullptr || !Superclass::ReadArrayForCells(da, out_array))
            return note_bad("cell", da);
        return 1;
    }

private:
    vtkIdType total[2] = {0, 0}; /* points and cells declared by the pieces so far */

    vtkIdType max_values() const
    {
        const long long expand = this->XMLParser && this->XMLParser->GetCompressor() ? 65536 : 1;
        return file_bytes > LLONG_MAX / expand ? LLONG_MAX : file_bytes * expand;
    }
    int refuse(const std::string &problem)
    {
        if (bad_count.empty())
            bad_count = problem;
        return 0;
    }
    int note_bad(const char *kind, vtkXMLDataElement *da)
    {
        if (bad_array.empty()) {
            const char *name = da ? da->GetAttribute("Name") : nullptr;
            bad_array = std::string(kind) + " data array \"" + (name ? name : "(unnamed)") + "\"";
        }
        return 1;
    }
};
vtkStandardNewMacro(ct_vtu_reader);

ct_status read_vtu(const char *path, ct_vtk_grid **out)
{
    if (out == nullptr || path == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_vtu: NULL argument");
    *out = nullptr;

    /* Check existence ourselves: VTK's message for a missing file is vague. */
    struct stat st;
    if (stat(path, &st) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: is a directory, not a .vtu file", path);
    FILE *probe = std::fopen(path, "rb");
    if (probe == nullptr)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    std::fclose(probe);

    ct_vtk_error_capture errors;
    vtkNew<ct_vtu_reader> reader;
    errors.watch(reader);
    reader->SetReaderErrorObserver(errors.command);
    reader->SetParserErrorObserver(errors.command);
    if (!reader->CanReadFile(path))
        return ct_error_set(CT_ERR_PARSE, "%s: not a VTK XML UnstructuredGrid (.vtu) file%s%s", path,
                            errors.text.empty() ? "" : ": ", errors.text.c_str());
    reader->SetFileName(path);
    reader->file_bytes = static_cast<long long>(st.st_size);
    reader->Update();
    if (!reader->bad_count.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read: %s", path, reader->bad_count.c_str());
    const unsigned long code = reader->GetErrorCode();
    vtkUnstructuredGrid *ug = reader->GetOutput();
    if (code != vtkErrorCode::NoError || !errors.text.empty() || ug == nullptr)
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read: %s", path,
                            errors.or_else(vtkErrorCode::GetStringFromErrorCode(code)));
    if (!reader->bad_array.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read %s: it has no or a duplicate Name, fewer values "
                            "than NumberOfPoints/NumberOfCells x NumberOfComponents, or truncated or corrupt "
                            "data", path, reader->bad_array.c_str());

    const vtkIdType n_points = ug->GetNumberOfPoints();
    const vtkIdType n_cells = ug->GetNumberOfCells();
    if (n_points > INT32_MAX)
        return ct_error_set(CT_ERR_MESH, "%s: %lld points exceed the int32 index range", path,
                            static_cast<long long>(n_points));

    std::unique_ptr<ct_vtk_grid> g(new ct_vtk_grid);
    g->path = path;
    g->points.resize(3 * static_cast<size_t>(n_points));
    for (vtkIdType i = 0; i < n_points; ++i)
        ug->GetPoint(i, &g->points[3 * static_cast<size_t>(i)]);

    g->tets.resize(4 * static_cast<size_t>(n_cells));
    vtkNew<vtkIdList> ids;
    for (vtkIdType c = 0; c < n_cells; ++c) {
        const int type = ug->GetCellType(c);
        if (type != VTK_TETRA) {
            const char *type_name = vtkCellTypes::GetClassNameFromTypeId(type);
            return ct_error_set(CT_ERR_MESH, "%s: cell %lld is a %s (VTK type %d), only linear tetrahedra "
                                "(VTK_TETRA = %d) are supported", path, static_cast<long long>(c),
                                type_name ? type_name : "unknown cell", type, VTK_TETRA);
        }
        ug->GetCellPoints(c, ids);
        if (ids->GetNumberOfIds() != 4)
            return ct_error_set(CT_ERR_MESH, "%s: tetrahedron %lld has %lld points, expected 4", path,
                                static_cast<long long>(c), static_cast<long long>(ids->GetNumberOfIds()));
        for (int k = 0; k < 4; ++k) {
            const vtkIdType v = ids->GetId(k);
            if (v < 0 || v >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: tetrahedron %lld corner %d: point index %lld outside "
                                    "[0, %lld)", path, static_cast<long long>(c), k,
                                    static_cast<long long>(v), static_cast<long long>(n_points));
            g->tets[4 * static_cast<size_t>(c) + k] = static_cast<int32_t>(v);
        }
    }
    copy_fields(ug->GetPointData(), g->point_fields);
    copy_fields(ug->GetCellData(), g->cell_fields);
    *out = g.release();
    return CT_OK;
}

ct_status find_field(const ct_vtk_grid *g, const std::vector<ct_vtk_grid::field> &fields,
                     const char *kind, const char *name, const double **data, int *n_components)
{
    if (name == nullptr || data == nullptr || n_components == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_%s_field: NULL argument", kind);
    for (const auto &f : fields)
        if (f.name == name) {
            *data = f.data.data();
            *n_components = f.n_components;
            return CT_OK;
        }
    return ct_error_set(CT_ERR_PARSE, "%s: no %s field named \"%s\"", g->path.c_str(), kind, name);
}

} // namespace

/* ---- C entry points --------------------------------------------------------------------------- */

extern "C" ct_status ct_vtk_write_vtu(const char *path, size_t n_points, const double *xyz_mm,
                                      size_t n_tets, const int32_t *tets,
                                      const ct_vtk_field *point_fields, int n_point_fields,
                                      const ct_vtk_field *cell_fields, int n_cell_fields)
{
    return guarded("writing .vtu", path, [&] {
        return write_vtu(path, n_points, xyz_mm, n_tets, tets, point_fields, n_point_fields, cell_fields,
                         n_cell_fields);
    });
}

extern "C" ct_status ct_vtk_read_vtu(const char *path, ct_vtk_grid **out)
{
    if (out != nullptr)
        *out = nullptr;
    return guarded("reading .vtu", path, [&] { return read_vtu(path, out); });
}

extern "C" void ct_vtk_grid_destroy(ct_vtk_grid *g) { delete g; }

extern "C" size_t ct_vtk_grid_n_points(const ct_vtk_grid *g) { return g->points.size() / 3; }
extern "C" size_t ct_vtk_grid_n_tets(const ct_vtk_grid *g) { return g->tets.size() / 4; }
extern "C" const double *ct_vtk_grid_points(const ct_vtk_grid *g) { return g->points.data(); }
extern "C" const int32_t *ct_vtk_grid_tets(const ct_vtk_grid *g) { return g->tets.data(); }

extern "C" ct_status ct_vtk_grid_point_field(const ct_vtk_grid *g, const char *name, const double **data,
                                             int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_point_field: grid is NULL");
    return guarded("looking up point field", g->path.c_str(), [&] {
        return find_field(g, g->point_fields, "point", name, data, n_components);
    });
}

extern "C" ct_status ct_vtk_grid_cell_field(const ct_vtk_grid *g, const char *name, const double **data,
                                            int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_cell_field: grid is NULL");
    return guarded("looking up cell field", g->path.c_str(), [&] {
        return find_field(g, g->cell_fields, "cell", name, data, n_components);
    });
}

/* ---- images ----------------------------------------------------------------------------------------
 * VTK reads the voxels; the placement comes from the header. NIfTI's matrices are VTK's (qform/sform as
 * vtkNIFTIImageReader hands them over, with the slice flip for qfac = -1 already applied); MetaImage
 * and NRRD headers are parsed here, since VTK 9.1's readers keep only spacing and origin of them. */

#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkImageData.h>
#include <vtkImageReader2.h>
#include <vtkInformation.h>
#include <vtkMatrix3x3.h>
#include <vtkMatrix4x4.h>
#include <vtkMetaImageReader.h>
#include <vtkNIFTIImageHeader.h>
#include <vtkNIFTIImageReader.h>
#include <vtkNIFTIImageWriter.h>
#include <vtkPolyData.h>
#include <vtkPolyDataConnectivityFilter.h>
#include <vtkQuadricDecimation.h>
#include <vtkStreamingDemandDrivenPipeline.h>
#include <vtkUnsignedCharArray.h>
#include <vtkUnsignedShortArray.h>
#include <vtkFloatArray.h>
#include <vtkWindowedSincPolyDataFilter.h>
#include <vtkXMLImageDataReader.h>
#include <vtkXMLImageDataWriter.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <zlib.h>

extern "C" {
#include "../ct_files.h"
#include "../image/ct_image.h"
}

namespace {

std::string lower(std::string s)
{
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool ends_with(const std::string &s, const char *suffix)
{
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

enum image_format { IMG_UNKNOWN, IMG_NIFTI, IMG_META, IMG_NRRD, IMG_VTI };

image_format image_format_of(const char *path)
{
    const std::string p = lower(path);
    if (ends_with(p, ".nii") || ends_with(p, ".nii.gz"))
        return IMG_NIFTI;
    if (ends_with(p, ".mha") || ends_with(p, ".mhd"))
        return IMG_META;
    if (ends_with(p, ".nrrd") || ends_with(p, ".nhdr"))
        return IMG_NRRD;
    if (ends_with(p, ".vti"))
        return IMG_VTI;
    return IMG_UNKNOWN;
}

/* The text header of a MetaImage or NRRD file: lines up to the data (MetaImage: the ElementDataFile line;
 * NRRD: the first empty line), at most 64 KiB. */
std::vector<std::string> header_lines(const char *path, bool nrrd)
{
    std::vector<std::string> lines;
    std::ifstream in(path, std::ios::binary);
    std::string line;
    size_t total = 0;
    while (total < 65536 && std::getline(in, line)) {
        total += line.size() + 1;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (nrrd && line.empty())
            break;
        lines.push_back(line);
        if (!nrrd && lower(line).compare(0, 15, "elementdatafile") == 0)
            break;
    }
    return lines;
}

/* Numbers in `text`, parentheses and commas read as spaces ("(1,0,0) (0,1,0)" -> 1 0 0 0 1 0). */
std::vector<double> numbers_in(const std::string &text)
{
    std::string t = text;
    for (char &c : t)
        if (c == '(' || c == ')' || c == ',')
            c = ' ';
    std::istringstream is(t);
    std::vector<double> v;
    std::string tok;
    while (is >> tok) {
        char *end = nullptr;
        double x = std::strtod(tok.c_str(), &end);
        if (end == tok.c_str() || *end != '\0')
            return {}; /* "none" or another word: not a list of numbers */
        v.push_back(x);
    }
    return v;
}

/* Value of "key = value" (MetaImage) or "key: value" (NRRD), key case-insensitive; false if absent. */
bool header_value(const std::vector<std::string> &lines, const char *key, bool nrrd, std::string *value)
{
    const std::string k = lower(key);
    for (const std::string &line : lines) {
        const size_t sep = line.find(nrrd ? ':' : '=');
        if (sep == std::string::npos || (nrrd && sep + 1 < line.size() && line[sep + 1] == '='))
            continue;
        std::string name = line.substr(0, sep);
        while (!name.empty() && name.back() == ' ')
            name.pop_back();
        while (!name.empty() && name.front() == ' ')
            name.erase(0, 1);
        if (lower(name) != k)
            continue;
        *value = line.substr(sep + 1);
        while (!value->empty() && value->front() == ' ')
            value->erase(0, 1);
        return true;
    }
    return false;
}

/* Axis directions (columns: axis i, j, k) and origin of the voxel (0,0,0) centre from a MetaImage or
 * NRRD header; spacing multiplies the directions for MetaImage (NRRD's directions carry it already). */
ct_status parse_placement(const char *path, image_format fmt, const double spacing[3], double a[3][4],
                          char frame[4])
{
    const bool nrrd = fmt == IMG_NRRD;
    const std::vector<std::string> lines = header_lines(path, nrrd);
    double dir[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}; /* dir[axis][component] */
    double org[3] = {0, 0, 0};
    bool dirs_carry_spacing = false;
    std::string v;
    if (!nrrd) {
        std::snprintf(frame, 4, "LPS"); /* ITK's MetaImage world frame */
        for (const char *key : {"TransformMatrix", "Orientation", "Rotation"})
            if (header_value(lines, key, false, &v)) {
                std::vector<double> m = numbers_in(v);
                if (m.size() != 9)
                    return ct_error_set(CT_ERR_PARSE, "%s: header %s holds %zu numbers, expected 9", path, key,
                                        m.size());
                for (int ax = 0; ax < 3; ++ax)
                    for (int c = 0; c < 3; ++c)
                        dir[ax][c] = m[3 * ax + c];
                break;
            }
        for (const char *key : {"Offset", "Position", "Origin"})
            if (header_value(lines, key, false, &v)) {
                std::vector<double> o = numbers_in(v);
                if (o.size() != 3)
                    return ct_error_set(CT_ERR_PARSE, "%s: header %s holds %zu numbers, expected 3", path, key,
                                        o.size());
                std::copy(o.begin(), o.end(), org);
                break;
            }
    } else {
        frame[0] = '\0';
        if (header_value(lines, "space", true, &v)) {
            const std::string s = lower(v);
            if (s == "left-posterior-superior" || s == "lps")
                std::snprintf(frame, 4, "LPS");
            else if (s == "right-anterior-superior" || s == "ras")
                std::snprintf(frame, 4, "RAS");
            else
                return ct_error_set(CT_ERR_CONFIG, "%s: NRRD space \"%s\" is not supported (expected "
                                    "left-posterior-superior or right-anterior-superior)", path, v.c_str());
        }
        if (header_value(lines, "space directions", true, &v)) {
            std::vector<double> m = numbers_in(v);
            if (m.size() != 9)
                return ct_error_set(CT_ERR_PARSE, "%s: \"space directions\" must be three vectors of 3 numbers "
                                    "(a 3-D scalar image), got \"%s\"", path, v.c_str());
            for (int ax = 0; ax < 3; ++ax)
                for (int c = 0; c < 3; ++c)
                    dir[ax][c] = m[3 * ax + c];
            dirs_carry_spacing = true;
        }
        if (header_value(lines, "space origin", true, &v)) {
            std::vector<double> o = numbers_in(v);
            if (o.size() != 3)
                return ct_error_set(CT_ERR_PARSE, "%s: \"space origin\" must hold 3 numbers, got \"%s\"", path,
                                    v.c_str());
            std::copy(o.begin(), o.end(), org);
        }
    }
    for (int r = 0; r < 3; ++r) {
        for (int ax = 0; ax < 3; ++ax)
            a[r][ax] = dir[ax][r] * (dirs_carry_spacing ? 1.0 : spacing[ax]);
        a[r][3] = org[r];
    }
    return CT_OK;
}

/* NRRD, read here: VTK 9.1's vtkNrrdReader drops an axis of files with "space directions". Attached data
 * (after the header's blank line), encodings raw and gzip, scalar types of 1 to 8 bytes, either endianness.
 * Hand-written: about 80 lines that no packaged library provides (ITK's reader is not in Debian's VTK). */
ct_status read_nrrd(const char *path, size_t max_bytes, ct_image **out)
{
    std::ifstream in(path, std::ios::binary);
    std::string magic;
    if (!std::getline(in, magic) || magic.compare(0, 4, "NRRD") != 0)
        return ct_error_set(CT_ERR_PARSE, "%s: not a NRRD file (no \"NRRD000N\" magic line)", path);
    const std::vector<std::string> lines = header_lines(path, true);
    std::string v;
    auto need = [&](const char *key) -> ct_status {
        if (!header_value(lines, key, true, &v))
            return ct_error_set(CT_ERR_PARSE, "%s: the NRRD header has no \"%s\" field", path, key);
        return CT_OK;
    };
    CT_CHECK(need("dimension"));
    const int dim = std::atoi(v.c_str());
    if (dim != 3)
        return ct_error_set(CT_ERR_CONFIG, "%s: a %d-D NRRD image: a segmentation must be 3-D", path, dim);
    CT_CHECK(need("sizes"));
    std::vector<double> sz = numbers_in(v);
    if (sz.size() != 3)
        return ct_error_set(CT_ERR_PARSE, "%s: NRRD sizes \"%s\" must be 3 numbers", path, v.c_str());
    int dims[3];
    for (int d = 0; d < 3; ++d) {
        if (!(sz[d] >= 1 && sz[d] <= 1e9))
            return ct_error_set(CT_ERR_PARSE, "%s: NRRD size %g along axis %d", path, sz[d], d);
        dims[d] = static_cast<int>(sz[d]);
        if (dims[d] < 2)
            return ct_error_set(CT_ERR_CONFIG, "%s: the image is %d x %d x %d voxels: a segmentation must be 3-D (at "
                                "least 2 voxels along each axis)", path, static_cast<int>(sz[0]), static_cast<int>(sz[1]),
                                static_cast<int>(sz[2]));
    }
    CT_CHECK(need("type"));
    const std::string t = lower(v);
    int bytes = 0, is_float = 0, is_signed = 0;
    if (t == "uchar" || t == "uint8" || t == "unsigned char" || t == "uint8_t") bytes = 1;
    else if (t == "signed char" || t == "int8" || t == "int8_t") bytes = 1, is_signed = 1;
    else if (t == "ushort" || t == "uint16" || t == "unsigned short" || t == "uint16_t") bytes = 2;
    else if (t == "short" || t == "int16" || t == "signed short" || t == "int16_t") bytes = 2, is_signed = 1;
    else if (t == "uint" || t == "uint32" || t == "unsigned int" || t == "uint32_t") bytes = 4;
    else if (t == "int" || t == "int32" || t == "signed int" || t == "int32_t") bytes = 4, is_signed = 1;
    else if (t == "float") bytes = 4, is_float = 1;
    else if (t == "double") bytes = 8, is_float = 1;
    else
        return ct_error_set(CT_ERR_CONFIG, "%s: NRRD type \"%s\" is not supported", path, v.c_str());
    CT_CHECK(need("encoding"));
    const std::string enc = lower(v);
    if (enc != "raw" && enc != "gzip" && enc != "gz")
        return ct_error_set(CT_ERR_CONFIG, "%s: NRRD encoding \"%s\" is not supported (raw or gzip)", path, v.c_str());
    if (header_value(lines, "data file", true, &v) || header_value(lines, "datafile", true, &v))
        return ct_error_set(CT_ERR_CONFIG, "%s: detached NRRD data (\"data file\") is not supported: use one .nrrd file",
                            path);
    bool big = header_value(lines, "endian", true, &v) && lower(v) == "big";
    const size_t n = static_cast<size_t>(dims[0]) * dims[1] * dims[2];
    const double need_bytes = static_cast<double>(n) * (4.0 + bytes);
    if (need_bytes > static_cast<double>(max_bytes))
        return ct_error_set(CT_ERR_CONFIG, "%s: %d x %d x %d voxels would need %.1f GiB of memory to read, more than the "
                            "limit of %.1f GiB (crop or resample the image, or raise max_memory_gib)", path, dims[0],
                            dims[1], dims[2], need_bytes / 1073741824.0, static_cast<double>(max_bytes) / 1073741824.0);
    /* the data start after the first empty line */
    std::string all;
    {
        std::ifstream f(path, std::ios::binary);
        std::ostringstream ss;
        ss << f.rdbuf();
        all = ss.str();
    }
    size_t start = all.find("\n\n");
    size_t skip = 2;
    if (start == std::string::npos) {
        start = all.find("\r\n\r\n");
        skip = 4;
    }
    if (start == std::string::npos)
        return ct_error_set(CT_ERR_PARSE, "%s: no blank line ends the NRRD header", path);
    const unsigned char *src = reinterpret_cast<const unsigned char *>(all.data()) + start + skip;
    size_t avail = all.size() - start - skip;
    std::vector<unsigned char> raw;
    if (enc != "raw") {
        raw.resize(n * bytes);
        z_stream zs;
        std::memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 15 + 32) != Z_OK)
            return ct_error_set(CT_ERR_NOMEM, "%s: cannot start zlib", path);
        zs.next_in = const_cast<unsigned char *>(src);
        zs.avail_in = static_cast<uInt>(std::min<size_t>(avail, UINT_MAX));
        zs.next_out = raw.data();
        zs.avail_out = static_cast<uInt>(raw.size());
        int rc = inflate(&zs, Z_FINISH);
        size_t got = raw.size() - zs.avail_out;
        inflateEnd(&zs);
        if ((rc != Z_STREAM_END && rc != Z_BUF_ERROR && rc != Z_OK) || got != raw.size())
            return ct_error_set(CT_ERR_PARSE, "%s: the gzip data hold %zu of the %zu bytes the header declares", path, got,
                                raw.size());
        src = raw.data();
        avail = raw.size();
    }
    if (avail < n * bytes)
        return ct_error_set(CT_ERR_PARSE, "%s: the data hold %zu bytes, the header declares %zu", path, avail, n * bytes);
    double spacing[3] = {1, 1, 1};
    if (header_value(lines, "spacings", true, &v)) {
        std::vector<double> sp = numbers_in(v);
        if (sp.size() == 3)
            std::copy(sp.begin(), sp.end(), spacing);
    }
    double a[3][4];
    char frame[4] = "";
    CT_CHECK(parse_placement(path, IMG_NRRD, spacing, a, frame));
    ct_image *img = nullptr;
    ct_status st = ct_image_create(dims, a, &img);
    if (st != CT_OK)
        return ct_error_set(st, "%s: %s", path, ct_error_message());
    std::snprintf(img->frame, sizeof img->frame, "%s", frame);
    for (size_t i = 0; i < n; ++i) {
        unsigned char b[8];
        for (int k = 0; k < bytes; ++k)
            b[k] = src[i * bytes + (big ? bytes - 1 - k : k)]; /* to little-endian */
        double x;
        if (is_float && bytes == 4) { float f; std::memcpy(&f, b, 4); x = f; }
        else if (is_float) { double d; std::memcpy(&d, b, 8); x = d; }
        else {
            uint64_t u = 0;
            for (int k = bytes - 1; k >= 0; --k)
                u = (u << 8) | b[k];
            if (is_signed && (u >> (8 * bytes - 1)))
                x = static_cast<double>(static_cast<int64_t>(u) - (static_cast<int64_t>(1) << (8 * bytes)));
            else
                x = static_cast<double>(u);
        }
        if (!std::isfinite(x)) {
            ct_image_destroy(img);
            return ct_error_set(CT_ERR_PARSE, "%s: voxel %zu holds a value that is not a finite number", path, i);
        }
        img->value[i] = static_cast<float>(x);
    }
    *out = img;
    return CT_OK;
}

ct_status read_image(const char *path, size_t max_bytes, ct_image **out)
{
    *out = nullptr;
    if (path == nullptr || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_image: path is NULL or empty");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot read: %s", path, std::strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: not a regular file", path);
    const image_format fmt = image_format_of(path);
    if (fmt == IMG_NRRD)
        return read_nrrd(path, max_bytes, out);
    vtkSmartPointer<vtkAlgorithm> reader;
    vtkNIFTIImageReader *nifti = nullptr;
    switch (fmt) {
    case IMG_NIFTI:
        reader = vtkSmartPointer<vtkNIFTIImageReader>::New();
        nifti = vtkNIFTIImageReader::SafeDownCast(reader);
        break;
    case IMG_META:
        reader = vtkSmartPointer<vtkMetaImageReader>::New();
        break;
    case IMG_VTI:
        reader = vtkSmartPointer<vtkXMLImageDataReader>::New();
        break;
    default:
        return ct_error_set(CT_ERR_CONFIG, "%s: unknown image format (expected .nii, .nii.gz, .mha, .mhd, .nrrd, "
                            ".nhdr or .vti)", path);
    }
    ct_vtk_error_capture errors;
    errors.watch(reader);
    if (fmt == IMG_VTI)
        vtkXMLImageDataReader::SafeDownCast(reader)->SetFileName(path);
    else
        vtkImageReader2::SafeDownCast(reader)->SetFileName(path);
    if (fmt != IMG_VTI && !vtkImageReader2::SafeDownCast(reader)->CanReadFile(path))
        return ct_error_set(CT_ERR_PARSE, "%s: not a readable %s file", path,
                            fmt == IMG_NIFTI ? "NIfTI" : fmt == IMG_META ? "MetaImage" : "NRRD");
    reader->UpdateInformation();
    if (!errors.text.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read the header: %s", path, errors.text.c_str());
    vtkInformation *info = reader->GetOutputInformation(0);
    int ext[6] = {0, -1, 0, -1, 0, -1};
    if (info == nullptr || !info->Has(vtkStreamingDemandDrivenPipeline::WHOLE_EXTENT()))
        return ct_error_set(CT_ERR_PARSE, "%s: the header gives no image size", path);
    info->Get(vtkStreamingDemandDrivenPipeline::WHOLE_EXTENT(), ext);
    int dims[3];
    for (int d = 0; d < 3; ++d)
        dims[d] = ext[2 * d + 1] - ext[2 * d] + 1;
    if (dims[0] < 1 || dims[1] < 1 || dims[2] < 1)
        return ct_error_set(CT_ERR_PARSE, "%s: the header declares an empty image (%d x %d x %d voxels)", path,
                            dims[0], dims[1], dims[2]);
    if (dims[0] < 2 || dims[1] < 2 || dims[2] < 2)
        return ct_error_set(CT_ERR_CONFIG, "%s: the image is %d x %d x %d voxels: a segmentation must be 3-D "
                            "(at least 2 voxels along each axis)", path, dims[0], dims[1], dims[2]);
    if (nifti != nullptr) {
        vtkNIFTIImageHeader *h = nifti->GetNIFTIHeader();
        if (h->GetDim(0) > 3 && h->GetDim(4) > 1)
            return ct_error_set(CT_ERR_CONFIG, "%s: the image has %lld time points (a 4-D series): give one 3-D "
                                "frame", path, static_cast<long long>(h->GetDim(4)));
    }
    const int n_comp = vtkImageData::GetNumberOfScalarComponents(info);
    if (n_comp != 1)
        return ct_error_set(CT_ERR_CONFIG, "%s: %d values per voxel: a label or intensity image has one", path,
                            n_comp);
    const int stype = vtkImageData::GetScalarType(info);
    const size_t n_vox = static_cast<size_t>(dims[0]) * static_cast<size_t>(dims[1]) * static_cast<size_t>(dims[2]);
    const double need = static_cast<double>(n_vox) * (4.0 + static_cast<double>(vtkDataArray::GetDataTypeSize(stype)));
    if (need > static_cast<double>(max_bytes))
        return ct_error_set(CT_ERR_CONFIG, "%s: %d x %d x %d voxels would need %.1f GiB of memory to read, more than "
                            "the limit of %.1f GiB (crop or resample the image, or raise CT_IMAGE_MAX_GIB)", path,
                            dims[0], dims[1], dims[2], need / 1073741824.0,
                            static_cast<double>(max_bytes) / 1073741824.0);
    reader->Update();
    vtkImageData *im = vtkImageData::SafeDownCast(reader->GetOutputDataObject(0));
    if (!errors.text.empty() || im == nullptr || im->GetPointData()->GetScalars() == nullptr)
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read the voxels: %s", path, errors.or_else("no scalars"));
    vtkDataArray *s = im->GetPointData()->GetScalars();
    if (static_cast<size_t>(s->GetNumberOfTuples()) != n_vox)
        return ct_error_set(CT_ERR_PARSE, "%s: %lld voxels read, the header declares %zu", path,
                            static_cast<long long>(s->GetNumberOfTuples()), n_vox);

    /* placement */
    double a[3][4];
    char frame[4] = "";
    double spacing[3], origin[3];
    im->GetSpacing(spacing);
    im->GetOrigin(origin);
    for (int d = 0; d < 3; ++d)
        if (!(spacing[d] > 0) || !std::isfinite(spacing[d]))
            return ct_error_set(CT_ERR_CONFIG, "%s: voxel spacing %g along axis %d must be a positive number", path,
                                spacing[d], d);
    if (fmt == IMG_META || fmt == IMG_NRRD) {
        CT_CHECK(parse_placement(path, fmt, spacing, a, frame));
    } else {
        /* VTK's data coordinates p = origin + spacing * (ext_min + ijk), through a 3x3 direction D (.vti) or
         * the 4x4 NIfTI matrix M: world = M [D p; 1]. */
        double D[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        if (fmt == IMG_VTI)
            for (int r = 0; r < 3; ++r)
                for (int c = 0; c < 3; ++c)
                    D[3 * r + c] = im->GetDirectionMatrix()->GetElement(r, c);
        double M[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        if (nifti != nullptr) {
            std::snprintf(frame, 4, "RAS");
            vtkNIFTIImageHeader *h = nifti->GetNIFTIHeader();
            vtkMatrix4x4 *m = (h->GetSFormCode() > 0 && nifti->GetSFormMatrix()) ? nifti->GetSFormMatrix()
                              : (h->GetQFormCode() > 0 && nifti->GetQFormMatrix()) ? nifti->GetQFormMatrix()
                                                                                    : nullptr;
            if (m != nullptr)
                for (int r = 0; r < 4; ++r)
                    for (int c = 0; c < 4; ++c)
                        M[r][c] = m->GetElement(r, c);
        }
        /* .vti: x = origin + D diag(spacing) (ijk + ext_min); NIfTI (D = I): x = M (origin + spacing (ijk +
         * ext_min)) */
        for (int r = 0; r < 3; ++r) {
            double q[3]; /* row r of the data coordinates' affine */
            for (int c = 0; c < 3; ++c)
                a[r][c] = 0;
            a[r][3] = M[r][3];
            for (int k = 0; k < 3; ++k) {
                double org_k = fmt == IMG_VTI ? (k == r ? 1.0 : 0.0) * origin[r] : origin[k];
                q[k] = org_k;
                for (int c = 0; c < 3; ++c) {
                    double dkc = D[3 * k + c] * spacing[c];
                    a[r][c] += M[r][k] * dkc;
                    q[k] += dkc * ext[2 * c];
                }
                a[r][3] += M[r][k] * q[k];
            }
        }
    }
    if (nifti != nullptr) { /* NIfTI xyzt_units: 1 metre, 2 mm (also the default, 0), 3 micron */
        const int u = nifti->GetNIFTIHeader()->GetXYZTUnits() & 7;
        const double scale = u == 1 ? 1000.0 : u == 3 ? 1e-3 : 1.0;
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 4; ++c)
                a[r][c] *= scale;
    }
    ct_image *img = nullptr;
    ct_status st = ct_image_create(dims, a, &img);
    if (st != CT_OK)
        return ct_error_set(st, "%s: %s", path, ct_error_message());
    std::snprintf(img->frame, sizeof img->frame, "%s", frame);
    double slope = 1, inter = 0;
    if (nifti != nullptr && nifti->GetRescaleSlope() != 0 &&
        (nifti->GetRescaleSlope() != 1 || nifti->GetRescaleIntercept() != 0)) {
        slope = nifti->GetRescaleSlope();
        inter = nifti->GetRescaleIntercept();
    }
    for (size_t i = 0; i < n_vox; ++i) {
        double v = s->GetComponent(static_cast<vtkIdType>(i), 0) * slope + inter;
        if (!std::isfinite(v)) {
            ct_image_destroy(img);
            return ct_error_set(CT_ERR_PARSE, "%s: voxel %zu holds a value that is not a finite number", path, i);
        }
        img->value[i] = static_cast<float>(v);
    }
    *out = img;
    return CT_OK;
}

/* Spacing and rotation of a placement whose 3x3 part is R diag(s), R a rotation; false otherwise. */
bool split_placement(const ct_image *img, double spacing[3], double R[3][3])
{
    for (int c = 0; c < 3; ++c) {
        double n = 0;
        for (int r = 0; r < 3; ++r)
            n += img->ijk_to_mm[r][c] * img->ijk_to_mm[r][c];
        spacing[c] = std::sqrt(n);
        if (!(spacing[c] > 0))
            return false;
        for (int r = 0; r < 3; ++r)
            R[r][c] = img->ijk_to_mm[r][c] / spacing[c];
    }
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
            double d = 0;
            for (int r = 0; r < 3; ++r)
                d += R[r][a] * R[r][b];
            if (std::fabs(d - (a == b)) > 1e-6)
                return false;
        }
    const double det = R[0][0] * (R[1][1] * R[2][2] - R[1][2] * R[2][1]) -
                       R[0][1] * (R[1][0] * R[2][2] - R[1][2] * R[2][0]) +
                       R[0][2] * (R[1][0] * R[2][1] - R[1][1] * R[2][0]);
    return det > 0;
}

double clamp_round(double v, int type)
{
    if (type == 2)
        return v;
    const double hi = type == 0 ? 255.0 : 65535.0;
    return std::min(hi, std::max(0.0, std::floor(v + 0.5)));
}

ct_status write_image(const char *path, const ct_image *img, int type)
{
    if (path == nullptr || img == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_write_image: NULL argument");
    if (type < 0 || type > 2)
        return ct_error_set(CT_ERR_INTERNAL, "%s: image type %d (expected 0, 1 or 2)", path, type);
    const image_format fmt = image_format_of(path);
    /* MetaImage is written in ITK's LPS frame, NIfTI in RAS: an image in the other frame is re-expressed */
    ct_image conv = *img;
    const char *want = fmt == IMG_META ? "LPS" : fmt == IMG_NIFTI ? "RAS" : "";
    if (want[0] && conv.frame[0] && std::strcmp(conv.frame, want) != 0)
        CT_CHECK(ct_image_set_frame(&conv, want));
    img = &conv;
    double spacing[3], R[3][3];
    if (!split_placement(img, spacing, R))
        return ct_error_set(CT_ERR_CONFIG, "%s: the voxel axes are not a rotation of positive spacings", path);
    const size_t n = ct_image_n_voxels(img);
    if (fmt == IMG_META) { /* header + raw voxels, little-endian, in one file */
        static const char *const names[3] = {"MET_UCHAR", "MET_USHORT", "MET_FLOAT"};
        static const size_t sizes[3] = {1, 2, 4};
        char head[1024];
        int len = std::snprintf(head, sizeof head,
                                "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
                                "CompressedData = False\nTransformMatrix = %.17g %.17g %.17g %.17g %.17g %.17g %.17g "
                                "%.17g %.17g\nOffset = %.17g %.17g %.17g\nCenterOfRotation = 0 0 0\n"
                                "AnatomicalOrientation = RAI\nElementSpacing = %.17g %.17g %.17g\n"
                                "DimSize = %d %d %d\nElementType = %s\nElementDataFile = LOCAL\n",
                                R[0][0], R[1][0], R[2][0], R[0][1], R[1][1], R[2][1], R[0][2], R[1][2], R[2][2],
                                img->ijk_to_mm[0][3], img->ijk_to_mm[1][3], img->ijk_to_mm[2][3], spacing[0],
                                spacing[1], spacing[2], img->dims[0], img->dims[1], img->dims[2], names[type]);
        std::vector<unsigned char> buf(static_cast<size_t>(len) + n * sizes[type]);
        std::memcpy(buf.data(), head, static_cast<size_t>(len));
        unsigned char *p = buf.data() + len;
        for (size_t i = 0; i < n; ++i) {
            double v = clamp_round(img->value[i], type);
            if (type == 0) {
                p[i] = static_cast<unsigned char>(v);
            } else if (type == 1) {
                uint16_t u = static_cast<uint16_t>(v);
                p[2 * i] = static_cast<unsigned char>(u & 0xff);
                p[2 * i + 1] = static_cast<unsigned char>(u >> 8);
            } else {
                float f = static_cast<float>(v);
                std::memcpy(p + 4 * i, &f, 4); /* x86-64 and aarch64: little-endian */
            }
        }
        return ct_write_file_atomic(path, buf.data(), buf.size());
    }
    if (fmt != IMG_NIFTI && fmt != IMG_VTI)
        return ct_error_set(CT_ERR_CONFIG, "%s: images are written as .nii, .nii.gz, .mha or .vti", path);
    vtkNew<vtkImageData> im;
    im->SetDimensions(img->dims);
    im->SetSpacing(spacing);
    vtkSmartPointer<vtkDataArray> arr;
    if (type == 0)
        arr = vtkSmartPointer<vtkUnsignedCharArray>::New();
    else if (type == 1)
        arr = vtkSmartPointer<vtkUnsignedShortArray>::New();
    else
        arr = vtkSmartPointer<vtkFloatArray>::New();
    arr->SetName("values");
    arr->SetNumberOfTuples(static_cast<vtkIdType>(n));
    for (size_t i = 0; i < n; ++i)
        arr->SetComponent(static_cast<vtkIdType>(i), 0, clamp_round(img->value[i], type));
    im->GetPointData()->SetScalars(arr);
    const std::string p = path;
    /* the writer picks compression from the name: keep ".gz" at the end of the temporary name */
    const bool gz = ends_with(lower(p), ".gz");
    const std::string stem = gz ? p.substr(0, p.size() - 7) : p.substr(0, p.size() - (fmt == IMG_VTI ? 4 : 4));
    const std::string tmp = stem + ".tmp." + std::to_string(static_cast<long>(getpid())) +
                            (fmt == IMG_VTI ? ".vti" : gz ? ".nii.gz" : ".nii");
    ct_vtk_error_capture errors;
    int ok = 0;
    if (fmt == IMG_VTI) {
        im->SetOrigin(img->ijk_to_mm[0][3], img->ijk_to_mm[1][3], img->ijk_to_mm[2][3]);
        im->SetDirectionMatrix(R[0][0], R[0][1], R[0][2], R[1][0], R[1][1], R[1][2], R[2][0], R[2][1], R[2][2]);
        vtkNew<vtkXMLImageDataWriter> w;
        errors.watch(w);
        w->SetFileName(tmp.c_str());
        w->SetInputData(im);
        w->SetCompressorTypeToZLib();
        ok = w->Write();
    } else {
        vtkNew<vtkMatrix4x4> m;
        for (int r = 0; r < 3; ++r) {
            for (int c = 0; c < 3; ++c)
                m->SetElement(r, c, R[r][c]);
            m->SetElement(r, 3, img->ijk_to_mm[r][3]);
        }
        vtkNew<vtkNIFTIImageWriter> w;
        errors.watch(w);
        w->SetFileName(tmp.c_str());
        w->SetInputData(im);
        w->SetQFormMatrix(m);
        w->SetSFormMatrix(m);
        w->Write();
        ok = w->GetErrorCode() == vtkErrorCode::NoError ? 1 : 0;
    }
    if (ok != 1 || !errors.text.empty()) {
        std::remove(tmp.c_str());
        return ct_error_set(CT_ERR_IO, "%s: cannot write (temp file %s): %s", path, tmp.c_str(),
                            errors.or_else(std::strerror(errno)));
    }
    ct_status s = fsync_file(tmp.c_str());
    if (s == CT_OK && std::rename(tmp.c_str(), path) != 0)
        s = ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp.c_str(), std::strerror(errno));
    if (s != CT_OK)
        std::remove(tmp.c_str());
    return s;
}

ct_status mask_surface(const unsigned char *mask, const int dims[3], const double a[3][4], int smooth_iterations,
                       double passband, double target_edge_mm, const char *what, ct_trisurf *out)
{
    /* the mask padded by one empty voxel on every side, in voxel-index coordinates (ijk - 1) */
    int pd[3] = {dims[0] + 2, dims[1] + 2, dims[2] + 2};
    vtkNew<vtkImageData> im;
    im->SetDimensions(pd);
    im->SetOrigin(-1, -1, -1);
    im->SetSpacing(1, 1, 1);
    vtkNew<vtkUnsignedCharArray> arr;
    const size_t np = static_cast<size_t>(pd[0]) * pd[1] * pd[2];
    arr->SetNumberOfTuples(static_cast<vtkIdType>(np));
    unsigned char *dst = arr->GetPointer(0);
    std::memset(dst, 0, np);
    size_t n_in = 0;
    for (int k = 0; k < dims[2]; ++k)
        for (int j = 0; j < dims[1]; ++j)
            for (int i = 0; i < dims[0]; ++i) {
                unsigned char v = mask[i + static_cast<size_t>(dims[0]) * (j + static_cast<size_t>(dims[1]) * k)] ? 1 : 0;
                dst[(i + 1) + static_cast<size_t>(pd[0]) * ((j + 1) + static_cast<size_t>(pd[1]) * (k + 1))] = v;
                n_in += v;
            }
    if (n_in == 0)
        return ct_error_set(CT_ERR_MESH, "%s: no voxel of the myocardium", what);
    im->GetPointData()->SetScalars(arr);
    ct_vtk_error_capture errors;
    vtkNew<vtkDiscreteFlyingEdges3D> contour;
    errors.watch(contour);
    contour->SetInputData(im);
    contour->SetValue(0, 1.0);
    contour->ComputeNormalsOff();
    contour->ComputeGradientsOff();
    contour->ComputeScalarsOff();
    /* the largest connected piece: isolated voxels of a noisy segmentation are dropped */
    vtkNew<vtkPolyDataConnectivityFilter> largest;
    largest->SetInputConnection(contour->GetOutputPort());
    largest->SetExtractionModeToLargestRegion();
    vtkSmartPointer<vtkAlgorithm> last = largest.GetPointer();
    vtkNew<vtkWindowedSincPolyDataFilter> smooth;
    if (smooth_iterations > 0) {
        smooth->SetInputConnection(last->GetOutputPort());
        smooth->SetNumberOfIterations(smooth_iterations);
        smooth->SetPassBand(passband);
        smooth->BoundarySmoothingOff();
        smooth->FeatureEdgeSmoothingOff();
        smooth->NonManifoldSmoothingOn();
        smooth->NormalizeCoordinatesOn();
        last = smooth.GetPointer();
    }
    last->Update();
    vtkPolyData *surf = vtkPolyData::SafeDownCast(last->GetOutputDataObject(0));
    if (!errors.text.empty() || surf == nullptr || surf->GetNumberOfPolys() == 0)
        return ct_error_set(CT_ERR_MESH, "%s: the myocardium gave no surface: %s", what, errors.or_else("empty"));
    vtkSmartPointer<vtkPolyData> result = surf;
    /* to mm, then decimation to about the target edge (quadric error: keeps the shape) */
    vtkNew<vtkPoints> pts;
    pts->SetDataTypeToDouble();
    pts->SetNumberOfPoints(surf->GetNumberOfPoints());
    for (vtkIdType i = 0; i < surf->GetNumberOfPoints(); ++i) {
        double q[3], x[3];
        surf->GetPoint(i, q);
        for (int r = 0; r < 3; ++r)
            x[r] = a[r][0] * q[0] + a[r][1] * q[1] + a[r][2] * q[2] + a[r][3];
        pts->SetPoint(i, x);
    }
    vtkNew<vtkPolyData> mm;
    mm->SetPoints(pts);
    mm->SetPolys(surf->GetPolys());
    result = mm.GetPointer();
    if (target_edge_mm > 0) {
        double area = 0;
        vtkIdType npts;
        const vtkIdType *ids;
        vtkCellArray *polys = mm->GetPolys();
        for (polys->InitTraversal(); polys->GetNextCell(npts, ids);) {
            if (npts != 3)
                continue;
            double p0[3], p1[3], p2[3], u[3], v[3];
            mm->GetPoint(ids[0], p0);
            mm->GetPoint(ids[1], p1);
            mm->GetPoint(ids[2], p2);
            for (int k = 0; k < 3; ++k) {
                u[k] = p1[k] - p0[k];
                v[k] = p2[k] - p0[k];
            }
            double cx = u[1] * v[2] - u[2] * v[1], cy = u[2] * v[0] - u[0] * v[2], cz = u[0] * v[1] - u[1] * v[0];
            area += 0.5 * std::sqrt(cx * cx + cy * cy + cz * cz);
        }
        const double want = area / (0.433 * target_edge_mm * target_edge_mm); /* equilateral triangles */
        const double have = static_cast<double>(mm->GetNumberOfPolys());
        if (want < 0.8 * have) {
            vtkNew<vtkQuadricDecimation> dec;
            errors.watch(dec);
            dec->SetInputData(mm);
            dec->SetTargetReduction(1.0 - want / have);
            dec->VolumePreservationOn();
            dec->Update();
            if (!errors.text.empty())
                return ct_error_set(CT_ERR_MESH, "%s: decimating the surface failed: %s", what, errors.text.c_str());
            result = dec->GetOutput();
        }
    }
    out->n_points = static_cast<size_t>(result->GetNumberOfPoints());
    out->n_tris = static_cast<size_t>(result->GetNumberOfPolys());
    out->xyz_mm = static_cast<double *>(std::malloc(3 * out->n_points * sizeof(double) + 1));
    out->tris = static_cast<int32_t *>(std::malloc(3 * out->n_tris * sizeof(int32_t) + 1));
    if (!out->xyz_mm || !out->tris) {
        ct_trisurf_free(out);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for the surface", what);
    }
    for (size_t i = 0; i < out->n_points; ++i)
        result->GetPoint(static_cast<vtkIdType>(i), out->xyz_mm + 3 * i);
    size_t t = 0;
    vtkIdType npts;
    const vtkIdType *ids;
    vtkCellArray *polys = result->GetPolys();
    for (polys->InitTraversal(); polys->GetNextCell(npts, ids) != 0;) {
        if (npts != 3) {
            ct_trisurf_free(out);
            return ct_error_set(CT_ERR_INTERNAL, "%s: the contour holds a %lld-gon", what, static_cast<long long>(npts));
        }
        for (int k = 0; k < 3; ++k)
            out->tris[3 * t + k] = static_cast<int32_t>(ids[k]);
        ++t;
    }
    return CT_OK;
}

} // namespace

extern "C" ct_status ct_vtk_read_image(const char *path, size_t max_bytes, ct_image **out)
{
    if (out != nullptr)
        *out = nullptr;
    return guarded("reading image", path, [&] { return read_image(path, max_bytes, out); });
}

extern "C" ct_status ct_vtk_write_image(const char *path, const ct_image *img, int type)
{
    return guarded("writing image", path, [&] { return write_image(path, img, type); });
}

extern "C" void ct_trisurf_free(ct_trisurf *s)
{
    if (s == nullptr)
        return;
    std::free(s->xyz_mm);
    std::free(s->tris);
    std::memset(s, 0, sizeof *s);
}

extern "C" ct_status ct_vtk_mask_surface(const unsigned char *mask, const int dims[3], const double ijk_to_mm[3][4],
                                         int smooth_iterations, double passband, double target_edge_mm,
                                         const char *what, ct_trisurf *out)
{
    std::memset(out, 0, sizeof *out);
    return guarded("extracting a surface", what, [&] {
        return mask_surface(mask, dims, ijk_to_mm, smooth_iterations, passband, target_edge_mm, what, out);
    });
}
