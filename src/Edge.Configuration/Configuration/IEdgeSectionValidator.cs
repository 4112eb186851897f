namespace Edge.Configuration;

/// <summary>Validates one capability's named policies in a candidate <see cref="EdgeSection"/>.</summary>
public interface IEdgeSectionValidator
{
    void Validate(EdgeSection edge, ConfigErrorList errors);
}
